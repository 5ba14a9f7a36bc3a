"""edgestats orchestration: Dagster assets, checks and schedules over the landing zone."""
