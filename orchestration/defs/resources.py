"""The warehouse engine as a Dagster resource, shared by both domains.

Every field is optional and, when its environment variable is set where the definitions
load, bound to it with `dagster.EnvVar` (so the UI shows the variable, and the run
process resolves it).  Names and defaults live in `edge.config` only: the resource
hands the values it has to `Settings.from_env`, which fills in the rest.
"""


from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

from edge.config import ENV_VARS, Settings, env_vars_set
from orchestration.backends import make_engine
from orchestration.engine import Engine

# the settings the engine backends read; the Firehose ones belong to the edge
ENGINE_FIELDS = (
    "home",
    "backend",
    "aws_region",
    "athena_workgroup",
    "athena_database",
    "athena_output",
    "landing_uri",
    "warehouse_uri",
    "glue_crawler",
    "crawler_mode",
    "crawler_timeout_seconds",
    "aws_endpoint_url",
    "trino_url",
    "trino_catalog",
    "trino_user",
)


class EngineResource(dg.ConfigurableResource):
    """Opens the configured `orchestration.engine.Engine` (local DuckDB, Athena or Trino)."""

    home: str | None = Field(default=None, description="EDGESTATS_HOME")
    backend: str | None = Field(default=None, description="EDGESTATS_BACKEND: local | athena | trino")
    aws_region: str | None = Field(default=None, description="EDGESTATS_AWS_REGION")
    athena_workgroup: str | None = Field(default=None, description="EDGESTATS_ATHENA_WORKGROUP")
    athena_database: str | None = Field(default=None, description="EDGESTATS_GLUE_DATABASE")
    athena_output: str | None = Field(default=None, description="EDGESTATS_ATHENA_OUTPUT")
    landing_uri: str | None = Field(default=None, description="EDGESTATS_LANDING_URI")
    warehouse_uri: str | None = Field(default=None, description="EDGESTATS_WAREHOUSE_URI")
    glue_crawler: str | None = Field(default=None, description="EDGESTATS_GLUE_CRAWLER")
    crawler_mode: str | None = Field(default=None, description="EDGESTATS_CRAWLER_MODE")
    crawler_timeout_seconds: str | None = Field(
        default=None, description="EDGESTATS_CRAWLER_TIMEOUT_SECONDS"
    )
    aws_endpoint_url: str | None = Field(default=None, description="EDGESTATS_AWS_ENDPOINT_URL")
    trino_url: str | None = Field(default=None, description="EDGESTATS_TRINO_URL")
    trino_catalog: str | None = Field(default=None, description="EDGESTATS_TRINO_CATALOG")
    trino_user: str | None = Field(default=None, description="EDGESTATS_TRINO_USER")

    @classmethod
    def from_settings(cls, settings: Settings) -> "EngineResource":
        """The resource for settings already read (the command line reads them once)."""
        values = {f: getattr(settings, f) for f in ENGINE_FIELDS}
        return cls(**{f: str(v) for f, v in values.items() if v is not None})

    def settings(self) -> Settings:
        given = {ENV_VARS[f]: getattr(self, f) for f in ENGINE_FIELDS if getattr(self, f)}
        return Settings.from_env(given)

    @contextmanager
    def open(self) -> Iterator[Engine]:
        engine = make_engine(self.settings())
        try:
            yield engine
        finally:
            engine.close()


def engine_resource(env: dict | None = None) -> EngineResource:
    """An `EngineResource` bound to the EDGESTATS_* variables set now (`env` for tests)."""
    present = env_vars_set(env)
    bound = {f: dg.EnvVar(ENV_VARS[f]) for f in ENGINE_FIELDS if ENV_VARS[f] in present}
    return EngineResource(**bound)
