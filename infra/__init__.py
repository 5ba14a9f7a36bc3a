"""edgestats infra: the AWS CDK app (edge ingestion, landing zone, catalog, salts)."""
