"""Lambda bundles built at synth time, offline and without Docker.

A bundle is a folder: the `edge` modules an entry point needs (found by following its
imports, lazy ones included), the pure-Python packages they import, copied from this
environment (nothing is downloaded), and `edge/edge_config.json`, the configuration
Lambda@Edge cannot get from environment variables.  Native extensions are never
copied: they would be built for this machine's Python, not Lambda's 3.13, and
ua-parser's Rust accelerator alone is over 1 MB zipped.  Without it ua-parser uses its
pure-Python resolver, and `edge.useragent` caches parses per container.

Bundles are content-addressed (`<name>-<sha256 prefix>`), so parallel synths share
them safely and an unchanged bundle keeps its asset hash.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from edge.config import EdgeConfig

EDGE_DIR = Path(__file__).resolve().parents[1] / "edge"
VIEWER_REQUEST_LIMIT = 1024 * 1024  # Lambda@Edge viewer-event package limit, zipped

# Top-level imports the Lambda Python runtime already provides.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3"})
# Third-party imports the bundle may ship -> the installed packages that satisfy them.
SHIPPABLE = {
    "ua_parser": ("ua_parser", "ua_parser_builtins"),
    "crawlerdetect": ("crawlerdetect",),
}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dylib", ".c", ".h", ".pyi")


class BundleError(RuntimeError):
    """An edge module imports something a Lambda bundle cannot ship."""


def _optional_import_nodes(tree: ast.AST) -> set[int]:
    """Imports inside `try: ... except ImportError:`: the module works without them."""
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            caught = {
                n.id for h in node.handlers for n in ast.walk(h.type) if isinstance(n, ast.Name)
            } if all(h.type is not None for h in node.handlers) else set()
            if caught & {"ImportError", "ModuleNotFoundError"}:
                for stmt in node.body:
                    optional.update(id(n) for n in ast.walk(stmt))
    return optional


def _imports(source: str) -> tuple[set[str], set[str]]:
    """(required, optional) imported module names, lazy imports inside functions included."""
    tree = ast.parse(source)
    optional_nodes = _optional_import_nodes(tree)
    required: set[str] = set()
    optional: set[str] = set()
    for node in ast.walk(tree):
        names: set[str] = set()
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module == "edge":
                names.update(f"edge.{a.name}" for a in node.names)
        (optional if id(node) in optional_nodes else required).update(names)
    return required, optional


def resolve(entry_modules: list[str], edge_dir: Path = EDGE_DIR) -> tuple[list[str], list[str]]:
    """(edge module names, third-party top-level packages) the entry points need."""
    seen: set[str] = set()
    third: set[str] = set()
    todo = ["__init__"] + [m.removeprefix("edge.") for m in entry_modules]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        path = edge_dir / f"{mod}.py"
        if not path.exists():
            raise BundleError(f"edge/{mod}.py is missing; the bundle needs it")
        seen.add(mod)
        required, optional = _imports(path.read_text())
        for name in sorted(required | optional):
            top = name.split(".")[0]
            if name in optional and top not in SHIPPABLE and top != "edge":
                continue  # e.g. orjson: faster when present, not needed
            if top == "edge":
                sub = name.split(".")[1] if "." in name else ""
                if (edge_dir / f"{sub}.py").exists():  # else a name defined in edge/__init__
                    todo.append(sub)
            elif top in sys.stdlib_module_names or top in RUNTIME_PROVIDED or top == "__future__":
                continue
            elif top in SHIPPABLE:
                third.add(top)
            else:
                raise BundleError(
                    f"edge/{mod}.py imports {top!r}, which the Lambda bundle cannot ship; "
                    "keep edge dependencies to ua-parser and crawlerdetect"
                )
    return sorted(seen), sorted(third)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BundleError(f"package {name!r} is not installed; run `make setup`")
    return Path(next(iter(spec.submodule_search_locations)))


def _copy_package(src: Path, dest: Path) -> None:
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "tests"))
        rel = Path(root).relative_to(src)
        for f in sorted(files):
            if f.endswith(_SKIP_SUFFIXES):
                continue
            target = dest / rel / f
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(root) / f, target)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build_bundle(name: str, entry_modules: list[str], config: EdgeConfig, out_root: Path,
                 edge_dir: Path = EDGE_DIR) -> Path:
    """Assemble the bundle for `entry_modules` under `out_root`; return its folder."""
    modules, third = resolve(entry_modules, edge_dir)
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out_root))
    try:
        (tmp / "edge").mkdir()
        for mod in modules:
            shutil.copyfile(edge_dir / f"{mod}.py", tmp / "edge" / f"{mod}.py")
        (tmp / "edge" / "edge_config.json").write_text(config.to_json() + "\n")
        for top in third:
            for package in SHIPPABLE[top]:
                _copy_package(_package_dir(package), tmp / package)
        final = out_root / f"{name}-{_digest(tmp)}"
        _prune(out_root, name, keep=final)
        if final.exists():
            shutil.rmtree(tmp)
        else:
            try:
                os.rename(tmp, final)
            except OSError:  # a parallel synth got there first with the same content
                shutil.rmtree(tmp, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _prune(out_root: Path, name: str, keep: Path, min_age_s: float = 600.0) -> None:
    """Drop this bundle's stale builds; young ones may belong to a synth running now."""
    import time

    for old in out_root.glob(f"{name}-*"):
        if old != keep and old.is_dir() and time.time() - old.stat().st_mtime > min_age_s:
            shutil.rmtree(old, ignore_errors=True)


def zipped_size(folder: Path) -> int:
    """Size of the bundle as a deflated zip, as Lambda measures the deployment package."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            z.write(path, path.relative_to(folder).as_posix())
    return buf.tell()
