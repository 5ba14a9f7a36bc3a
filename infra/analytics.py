"""Catalog and query side (analytics region): Glue, Athena, the warehouse, the Dagster role.

The tables are `edge.catalog`'s, the one declaration the Trino stack and the tests use
too: `landing_events`, the landing zone as text lines (the pipeline reads it through the
`raw_events` view, which types each line strictly in SQL and which the backend keeps
current); its partitions (dt = Firehose arrival day) are added either by the crawler (S3
target `events/`, narrowed per run; see `infra/crawler.py`) or by the partition API.  The
warehouse tables are Parquet, partitioned by `dt`, written by Athena `INSERT INTO`.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from edge import catalog
from edge.catalog import LANDING_TABLE
from infra import crawler
from infra.common import (
    EVENTS_PREFIX,
    QUARANTINE_PREFIX,
    access_logs_bucket,
    acknowledge,
    acknowledge_wildcards,
    bucket_name,
    landing_bucket_name,
    secure_bucket,
)
from infra.options import InfraOptions


def _table_id(name: str) -> str:
    """The construct id of a Glue table (kept from earlier releases, so updates replace none)."""
    if name == LANDING_TABLE:
        return "LandingEvents"
    return f"Table{name.title().replace('_', '')}"


class AnalyticsStack(Stack):
    def __init__(self, scope: Construct, id: str, *, opts: InfraOptions, **kwargs):
        super().__init__(scope, id, **kwargs)
        region = opts.analytics_region
        db_name = opts.glue_database
        landing = s3.Bucket.from_bucket_name(self, "Landing", landing_bucket_name(opts))
        logs_bucket = access_logs_bucket(self, opts, region)
        self.warehouse = secure_bucket(self, "Warehouse", bucket_name(opts, "warehouse", region),
                                       logs_bucket)
        self.results = secure_bucket(
            self, "AthenaResults", bucket_name(opts, "athena-results", region), logs_bucket,
            lifecycle_rules=[s3.LifecycleRule(id="expire-results", expiration=Duration.days(30))],
        )

        catalog_arn = f"arn:{Aws.PARTITION}:glue:{region}:{Aws.ACCOUNT_ID}:catalog"
        database_arn = f"arn:{Aws.PARTITION}:glue:{region}:{Aws.ACCOUNT_ID}:database/{db_name}"
        tables_arn = f"arn:{Aws.PARTITION}:glue:{region}:{Aws.ACCOUNT_ID}:table/{db_name}/*"

        database = glue.CfnDatabase(
            self, "Database", catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=db_name, description="edgestats: raw events, clean events, daily summaries"),
        )
        self.tables: dict[str, glue.CfnTable] = {}
        inputs = catalog.table_inputs(f"s3://{landing.bucket_name}",
                                      f"s3://{self.warehouse.bucket_name}")
        for name, table_input in inputs.items():
            table = glue.CfnTable(
                self, _table_id(name), catalog_id=Aws.ACCOUNT_ID, database_name=db_name,
                table_input=glue.CfnTable.TableInputProperty(name=name))
            # the API-shaped TableInput of edge.catalog, the one declaration (CloudFormation's
            # AWS::Glue::Table takes the Glue API's TableInput as it is)
            table.add_property_override("TableInput", table_input)
            table.add_resource_dependency(database)
            self.tables[name] = table
        raw = self.tables[LANDING_TABLE]

        crawler_name = f"{opts.prefix}-raw-events"
        crawler_role = iam.Role(self, "CrawlerRole",
                                assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
        crawler_role.add_to_policy(iam.PolicyStatement(
            actions=["glue:GetDatabase", "glue:GetTable", "glue:UpdateTable", "glue:GetPartition",
                     "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition",
                     "glue:BatchCreatePartition", "glue:UpdatePartition",
                     "glue:BatchUpdatePartition"],
            resources=[catalog_arn, database_arn,
                       f"arn:{Aws.PARTITION}:glue:{region}:{Aws.ACCOUNT_ID}:table/{db_name}/{LANDING_TABLE}"],
        ))
        crawler_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[landing.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{EVENTS_PREFIX}*"]}},
        ))
        crawler_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[landing.arn_for_objects(f"{EVENTS_PREFIX}*")],
        ))
        crawler_role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"arn:{Aws.PARTITION}:logs:{region}:{Aws.ACCOUNT_ID}:log-group:"
                       "/aws-glue/crawlers:*"],
        ))
        crawler_logs = (f"arn:{Aws.PARTITION}:logs:{region}:{Aws.ACCOUNT_ID}:log-group:"
                        "/aws-glue/crawlers:*")
        acknowledge_wildcards(crawler_role, "The crawler reads the Firehose objects under events/ "
                              "(names unknown in advance) and logs to Glue's crawler log group.",
                              landing.arn_for_objects(f"{EVENTS_PREFIX}*"), crawler_logs)
        self.crawler = glue.CfnCrawler(
            self, "Crawler", name=crawler_name, role=crawler_role.role_arn,
            description="Adds dt partitions to landing_events; the Dagster runtime points its "
                        "S3 target at the day folders of each run",
            database_name=db_name,
            table_prefix=crawler.TABLE_PREFIX,
            targets=glue.CfnCrawler.TargetsProperty(s3_targets=[
                glue.CfnCrawler.S3TargetProperty(
                    path=f"s3://{landing.bucket_name}/{crawler.EVENTS_FOLDER}",
                    exclusions=list(crawler.EXCLUSIONS)),
            ]),
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior=crawler.SCHEMA_CHANGE_POLICY["UpdateBehavior"],
                delete_behavior=crawler.SCHEMA_CHANGE_POLICY["DeleteBehavior"]),
            recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(
                recrawl_behavior=crawler.RECRAWL_POLICY["RecrawlBehavior"]),
            configuration=crawler.configuration(),
        )
        self.crawler.add_resource_dependency(raw)
        acknowledge(self.crawler, "Crawler logs hold object keys and partition names only, no "
                    "personal data; a customer-managed KMS key would cost more than the data "
                    "it protects.", "AwsSolutions-GL1")

        cutoff = opts.athena_bytes_scanned_cutoff_mb * 1024 * 1024
        self.workgroup = athena.CfnWorkGroup(
            self, "WorkGroup", name=opts.prefix,
            description="edgestats pipeline queries",
            recursive_delete_option=True,
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"),
                ),
            ),
        )
        self.dagster_role = self._dagster_role(opts, landing, catalog_arn, database_arn,
                                               tables_arn, crawler_name)

        output_uri = f"s3://{self.results.bucket_name}/results/"
        env = {
            "EDGESTATS_BACKEND": "athena",
            "EDGESTATS_AWS_REGION": region,
            "EDGESTATS_ATHENA_WORKGROUP": opts.prefix,
            "EDGESTATS_GLUE_DATABASE": db_name,
            "EDGESTATS_ATHENA_OUTPUT": output_uri,
            "EDGESTATS_LANDING_URI": f"s3://{landing.bucket_name}/",
            "EDGESTATS_WAREHOUSE_URI": f"s3://{self.warehouse.bucket_name}/",
            "EDGESTATS_GLUE_CRAWLER": crawler_name,
        }
        for key, value in env.items():
            CfnOutput(self, key.removeprefix("EDGESTATS_").title().replace("_", ""), value=value,
                      description=key)
        CfnOutput(self, "DagsterEnv", description="Paste into the Dagster runtime's environment",
                  value=Fn.join(" ", [f"{k}={v}" for k, v in env.items()]))
        CfnOutput(self, "DagsterRoleArn", value=self.dagster_role.role_arn,
                  description="Role the Dagster runtime assumes")

    def _dagster_role(self, opts, landing, catalog_arn, database_arn, tables_arn,
                      crawler_name) -> iam.Role:
        """Least privilege: these buckets, this database, this workgroup, this crawler."""
        principal = (iam.ArnPrincipal(opts.dagster_principal_arn) if opts.dagster_principal_arn
                     else iam.AccountRootPrincipal())
        role = iam.Role(self, "DagsterRole", assumed_by=principal,
                        description="edgestats Dagster runtime (Athena backend)",
                        max_session_duration=Duration.hours(4))
        region = opts.analytics_region
        wh, res = self.warehouse, self.results
        statements = [
            iam.PolicyStatement(
                sid="ListBuckets", actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[landing.bucket_arn, wh.bucket_arn, res.bucket_arn]),
            iam.PolicyStatement(
                sid="ReadLanding", actions=["s3:GetObject"],
                resources=[landing.arn_for_objects(f"{EVENTS_PREFIX}*"),
                           landing.arn_for_objects(f"{QUARANTINE_PREFIX}*")]),
            # a damaged landing object that fails a query is quarantined and its readable
            # lines put back (orchestration/backends/catalog.py)
            iam.PolicyStatement(
                sid="RepairLanding", actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[landing.arn_for_objects(f"{EVENTS_PREFIX}*")]),
            iam.PolicyStatement(
                sid="QuarantineLanding", actions=["s3:PutObject"],
                resources=[landing.arn_for_objects(f"{QUARANTINE_PREFIX}*")]),
            iam.PolicyStatement(
                sid="WriteWarehouseAndResults",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                         "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resources=[wh.arn_for_objects("*"), res.arn_for_objects("*")]),
            iam.PolicyStatement(
                sid="Catalog",
                # CreateTable/UpdateTable/DeleteTable: the raw_events view and the scratch
                # tables a day's new version is written through (atomic day replace)
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables",
                         "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
                         "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition",
                         "glue:CreatePartition", "glue:BatchCreatePartition",
                         "glue:UpdatePartition", "glue:BatchUpdatePartition",
                         "glue:DeletePartition", "glue:BatchDeletePartition"],
                resources=[catalog_arn, database_arn, tables_arn]),
            iam.PolicyStatement(
                sid="Crawler",
                actions=["glue:StartCrawler", "glue:GetCrawler", "glue:UpdateCrawler",
                         "glue:StopCrawler"],
                resources=[f"arn:{Aws.PARTITION}:glue:{region}:{Aws.ACCOUNT_ID}:crawler/{crawler_name}"]),
            iam.PolicyStatement(
                sid="Athena",
                actions=["athena:StartQueryExecution", "athena:GetQueryExecution",
                         "athena:GetQueryResults", "athena:StopQueryExecution",
                         "athena:GetWorkGroup"],
                resources=[f"arn:{Aws.PARTITION}:athena:{region}:{Aws.ACCOUNT_ID}:workgroup/{opts.prefix}"]),
        ]
        for s in statements:
            role.add_to_policy(s)
        acknowledge_wildcards(role, "Objects are named per day and per query at run time; access "
                              "is limited to these three buckets (landing: events/ and "
                              "quarantine/ only, written only to repair a damaged object) and "
                              "to this database's tables.",
                              landing.arn_for_objects(f"{EVENTS_PREFIX}*"),
                              landing.arn_for_objects(f"{QUARANTINE_PREFIX}*"),
                              wh.arn_for_objects("*"), res.arn_for_objects("*"), tables_arn)
        return role
