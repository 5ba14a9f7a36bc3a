"""The Dagster code location `edgestats`: every domain's definitions, merged.

`dagster dev` from the repository root (workspace.yaml) and `edgestats materialize`
both load `defs` from here.
"""

import dagster as dg

from orchestration.defs import landing, quality, warehouse
from orchestration.defs.resources import engine_resource

defs = dg.Definitions.merge(
    landing.defs,
    warehouse.defs,
    quality.defs,
    dg.Definitions(resources={"engine": engine_resource()}),
)
