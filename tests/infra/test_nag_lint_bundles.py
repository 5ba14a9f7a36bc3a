"""cdk-nag AwsSolutions, cfn-lint and the Lambda bundles, on the session's synthesised apps."""

from __future__ import annotations

import json
import zipfile

import pytest
from cfnlint.api import lint

from infra.bundling import VIEWER_REQUEST_LIMIT, BundleError, resolve, zipped_size

STACKS = {"Landing": "eu-west-1", "Analytics": "eu-west-1", "Salts": "us-east-1",
          "Delivery": "us-east-1", "Edge": "us-east-1"}
# CDK's own L2 constructs add DependsOn next to a GetAtt (Lambda -> its role); the
# duplicate ordering is harmless and not ours to remove.
IGNORED_LINT_RULES = {"W3005"}


def violations(synth) -> list[str]:
    report = synth.outdir / "validation-report.json"
    if not report.exists():
        return []
    data = json.loads(report.read_text())
    return [f"{v['ruleName']} @ {c['constructPath']}" for p in data["pluginReports"]
            for v in p["violations"] for c in v["violatingConstructs"]]


def test_cdk_nag_has_no_unacknowledged_findings(synth, synth_edge_door):
    # synth() itself raises on an unacknowledged error; warnings must be acknowledged too.
    assert violations(synth) == []
    assert violations(synth_edge_door) == []


def test_every_acknowledgment_gives_a_reason(synth):
    acks = []
    for stack in STACKS:
        for path, entries in synth.metadata(stack).items():
            for e in entries:
                if e["type"] == "aws:cdk:acknowledged-rules":
                    acks.extend((path, rule, reason) for rule, reason in e["data"].items())
    assert len(acks) >= 10
    for path, rule, reason in acks:
        assert rule.startswith("Annotation::AwsSolutions-"), (path, rule)
        assert len(reason) >= 30, (path, rule, reason)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_cfn_lint_is_clean(synth, synth_edge_door, stack):
    for s in (synth, synth_edge_door):
        text = (s.outdir / f"Edgestats{stack}.template.json").read_text()
        matches = [m for m in lint(text, regions=[STACKS[stack]])
                   if m.rule.id not in IGNORED_LINT_RULES]
        assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_viewer_request_bundle_is_under_1_mb_zipped(synth):
    size = zipped_size(synth.app.bundles.edge)
    assert 50_000 < size <= VIEWER_REQUEST_LIMIT


def test_edge_bundle_holds_the_edge_code_config_and_pure_python_deps(synth):
    root = synth.app.bundles.edge
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {"edge/handler.py", "edge/normalize.py", "edge/useragent.py", "edge/schema.py",
            "edge/edge_config.json", "ua_parser/__init__.py", "crawlerdetect/__init__.py",
            "ua_parser_builtins/regexes.py"} <= files
    assert not any(f.endswith((".so", ".pyc")) for f in files)
    assert not any(f.startswith(("ua_parser_rs", "boto3", "orjson")) for f in files)
    assert not {"edge/simulate.py", "edge/collector.py"} & files
    config = json.loads((root / "edge" / "edge_config.json").read_text())
    assert config["firehose_stream"] == "edgestats-events"
    assert config["firehose_region"] == "us-east-1"
    assert config["salt_parameter_prefix"] == "/edgestats/salt"


def test_allowed_sites_are_baked_into_the_edge_config(synth_edge_door):
    config = json.loads((synth_edge_door.app.bundles.edge / "edge" / "edge_config.json").read_text())
    assert config["allowed_sites"] == ["example.com", "www.example.com"]


def test_rotation_bundle_ships_no_third_party_code(synth):
    root = synth.app.bundles.rotate
    tops = sorted(p.name for p in root.iterdir())
    assert tops == ["edge"]
    assert (root / "edge" / "rotate_salts.py").exists()
    assert (root / "edge" / "ssm_salts.py").exists()


def test_bundled_edge_code_imports_from_the_bundle_alone(synth, tmp_path):
    """Unzip the bundle and import the handler with only the bundle and stdlib on the path."""
    import subprocess
    import sys

    archive = tmp_path / "edge.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in synth.app.bundles.edge.rglob("*"):
            if p.is_file():
                z.write(p, p.relative_to(synth.app.bundles.edge).as_posix())
    code = ("import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p]; "
            f"sys.path.insert(0, {str(archive)!r}); import edge.handler, edge.useragent; "
            "print(edge.useragent.parse_user_agent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36').browser)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "Chrome"


def test_an_unshippable_import_stops_the_build(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "entry.py").write_text("import numpy\n")
    with pytest.raises(BundleError, match="imports 'numpy'"):
        resolve(["edge.entry"], edge_dir=tmp_path)


def test_optional_imports_and_lazy_edge_imports_are_followed(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "entry.py").write_text(
        "try:\n    import orjson\nexcept ImportError:\n    orjson = None\n"
        "def f():\n    from edge.helper import x\n    import ua_parser\n")
    (tmp_path / "helper.py").write_text("import json\nx = 1\n")
    assert resolve(["edge.entry"], edge_dir=tmp_path) == (
        ["__init__", "entry", "helper"], ["ua_parser"])
