"""All configuration, read in this one module.

Two sources: environment variables for everything that runs on a laptop or in the
Dagster runtime (`Settings.from_env`), and the JSON file baked into the Lambda@Edge
bundle at synth time (`EdgeConfig.load`), because Lambda@Edge has no environment
variables.  Nothing else in the project reads `os.environ` for edgestats settings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

BAKED_CONFIG_FILE = Path(__file__).with_name("edge_config.json")


BACKENDS = ("local", "athena", "trino")


class ConfigError(ValueError):
    """A setting a user gave is unusable; the message says what to do."""


class UsageError(ConfigError):
    """Bad input from the user on the command line: one clear line, exit code 2."""


@dataclass(frozen=True)
class Settings:
    home: Path
    backend: str = "local"  # local | athena | trino
    partitions_start: str = "2024-01-01"
    aws_region: str | None = None
    athena_workgroup: str | None = None
    athena_database: str = "edgestats"
    athena_output: str | None = None
    landing_uri: str | None = None
    warehouse_uri: str | None = None
    glue_crawler: str | None = None
    crawler_mode: str = "partition-api"  # crawler | partition-api
    crawler_timeout_seconds: float = 1800.0  # how long a crawl may take before the run fails
    firehose_stream: str = "edgestats"
    firehose_buffer_seconds: float = 60.0
    firehose_buffer_bytes: int = 5 * 1024 * 1024
    aws_endpoint_url: str | None = None
    trino_url: str | None = None  # http(s)://[user@]host:port of the coordinator
    trino_catalog: str = "hive"  # a Hive connector catalog whose metastore is Glue
    trino_user: str = "edgestats"

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def wal(self) -> Path:
        """The collector's write-ahead log (edge/wal.py)."""
        return self.home / "wal"

    @property
    def salt_file(self) -> Path:
        return self.home / "salts.json"

    @classmethod
    def from_env(cls, env: dict | None = None) -> Settings:
        e = os.environ if env is None else env
        backend = e.get("EDGESTATS_BACKEND", "local").strip().lower() or "local"
        if backend not in BACKENDS:
            raise ConfigError(
                f"EDGESTATS_BACKEND={backend!r} is not known; set it to 'local', 'athena' or "
                "'trino'"
            )
        database = e.get("EDGESTATS_GLUE_DATABASE") or e.get("EDGESTATS_TRINO_SCHEMA") or "edgestats"
        schema = e.get("EDGESTATS_TRINO_SCHEMA")
        if schema and schema != database:
            raise ConfigError(
                f"EDGESTATS_TRINO_SCHEMA={schema!r} and EDGESTATS_GLUE_DATABASE={database!r} "
                "name the same thing (the Glue database is the Trino schema); set one")
        crawler_mode = e.get("EDGESTATS_CRAWLER_MODE", "partition-api")
        if crawler_mode not in ("crawler", "partition-api"):
            raise ConfigError(
                f"EDGESTATS_CRAWLER_MODE={crawler_mode!r} is not known; "
                "set it to 'crawler' or 'partition-api'"
            )

        def number(name: str, default: float, lo: float) -> float:
            raw = e.get(name)
            if raw is None or raw == "":
                return default
            try:
                v = float(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r} is not a number") from None
            if v < lo:
                raise ConfigError(f"{name}={raw!r} must be at least {lo}")
            return v

        return cls(
            home=Path(e.get("EDGESTATS_HOME") or ".edgestats").expanduser().absolute(),
            backend=backend,
            partitions_start=e.get("EDGESTATS_PARTITIONS_START", "2024-01-01"),
            aws_region=e.get("EDGESTATS_AWS_REGION") or e.get("AWS_REGION") or e.get("AWS_DEFAULT_REGION"),
            athena_workgroup=e.get("EDGESTATS_ATHENA_WORKGROUP"),
            athena_database=database,
            athena_output=e.get("EDGESTATS_ATHENA_OUTPUT"),
            landing_uri=e.get("EDGESTATS_LANDING_URI"),
            warehouse_uri=e.get("EDGESTATS_WAREHOUSE_URI"),
            glue_crawler=e.get("EDGESTATS_GLUE_CRAWLER"),
            crawler_mode=crawler_mode,
            crawler_timeout_seconds=number("EDGESTATS_CRAWLER_TIMEOUT_SECONDS", 1800.0, 1.0),
            firehose_stream=e.get("EDGESTATS_FIREHOSE_STREAM", "edgestats"),
            firehose_buffer_seconds=number("EDGESTATS_FIREHOSE_BUFFER_SECONDS", 60.0, 1.0),
            firehose_buffer_bytes=int(number("EDGESTATS_FIREHOSE_BUFFER_BYTES", 5 * 1024 * 1024, 1)),
            # AWS_ENDPOINT_URL: the SDKs' standard name, for S3-compatible storage
            aws_endpoint_url=e.get("EDGESTATS_AWS_ENDPOINT_URL") or e.get("AWS_ENDPOINT_URL"),
            trino_url=e.get("EDGESTATS_TRINO_URL"),
            trino_catalog=e.get("EDGESTATS_TRINO_CATALOG") or "hive",
            trino_user=e.get("EDGESTATS_TRINO_USER") or "edgestats",
        )


# Settings field -> the environment variable `Settings.from_env` reads it from.  Dagster
# resources name these in `dagster.EnvVar`s, so the UI shows where each value comes from.
ENV_VARS: dict[str, str] = {
    "home": "EDGESTATS_HOME",
    "backend": "EDGESTATS_BACKEND",
    "partitions_start": "EDGESTATS_PARTITIONS_START",
    "aws_region": "EDGESTATS_AWS_REGION",
    "athena_workgroup": "EDGESTATS_ATHENA_WORKGROUP",
    "athena_database": "EDGESTATS_GLUE_DATABASE",
    "athena_output": "EDGESTATS_ATHENA_OUTPUT",
    "landing_uri": "EDGESTATS_LANDING_URI",
    "warehouse_uri": "EDGESTATS_WAREHOUSE_URI",
    "glue_crawler": "EDGESTATS_GLUE_CRAWLER",
    "crawler_mode": "EDGESTATS_CRAWLER_MODE",
    "crawler_timeout_seconds": "EDGESTATS_CRAWLER_TIMEOUT_SECONDS",
    "firehose_stream": "EDGESTATS_FIREHOSE_STREAM",
    "firehose_buffer_seconds": "EDGESTATS_FIREHOSE_BUFFER_SECONDS",
    "firehose_buffer_bytes": "EDGESTATS_FIREHOSE_BUFFER_BYTES",
    "aws_endpoint_url": "EDGESTATS_AWS_ENDPOINT_URL",
    "trino_url": "EDGESTATS_TRINO_URL",
    "trino_catalog": "EDGESTATS_TRINO_CATALOG",
    "trino_user": "EDGESTATS_TRINO_USER",
}


def env_vars_set(env: dict | None = None) -> set[str]:
    """Which of `ENV_VARS` are set (non-empty) in the environment."""
    e = os.environ if env is None else env
    return {name for name in ENV_VARS.values() if e.get(name)}


@dataclass(frozen=True)
class EdgeConfig:
    """What the Lambda@Edge and transformation functions need, baked in at synth."""

    firehose_stream: str = "edgestats"
    firehose_region: str = "us-east-1"
    salt_parameter_prefix: str = "/edgestats/salt"
    salt_region: str = "us-east-1"
    pixel_path: str = "/_e/p.gif"
    beacon_path: str = "/_e/collect"
    allowed_sites: tuple[str, ...] = field(default_factory=tuple)  # empty: any site
    # Field order of W3C/plain records the log-stream delivery sends (its recordFields);
    # empty: the 33 legacy fields.  JSON records name their fields and need none.
    log_fields: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def load(cls, path: Path | None = None) -> EdgeConfig:
        p = path or BAKED_CONFIG_FILE
        if not p.exists():
            return cls()
        data = json.loads(p.read_text())
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("allowed_sites", "log_fields"):
            if name in known:
                known[name] = tuple(known[name])
        return cls(**known)

    def to_json(self) -> str:
        d = dict(self.__dict__)
        d["allowed_sites"] = list(self.allowed_sites)
        d["log_fields"] = list(self.log_fields)
        return json.dumps(d, indent=2, sort_keys=True)
