"""How the `landing_events` crawler is deployed; plain values, so the Athena backend's moto
tests deploy the very same crawler without loading the CDK.

The crawler has an S3 target on the landing zone's `events/` folder, so the backend can
narrow it to the day folders of a run (`UpdateCrawler`; a catalog-target crawler always
crawls the table's whole location).  The rest keeps it writing to the deployed
`landing_events` table and nothing else, whatever folder it is pointed at:

- `TablePrefix` "landing_" + the `events/` folder = the table name `landing_events`;
- `TableLevelConfiguration` puts the table root at `events/` (the bucket is level 1,
  `events/` level 2), not at the `dt=D/` folder a narrowed target starts from;
- `TableThreshold` 1: a crawl that would find a second table fails and writes nothing;
- schema changes are only logged and partitions inherit the table's storage (columns,
  SerDe), so a crawl adds partitions and never rewrites the table CloudFormation owns;
- no partition index (the crawler would need CreatePartitionIndex on the table, and
  the backend reads partitions by value);
- `RecrawlPolicy` stays CRAWL_EVERYTHING: Glue refuses target changes on an
  incremental (CRAWL_NEW_FOLDERS_ONLY) crawler.
"""

from __future__ import annotations

import json

EVENTS_FOLDER = "events/"
TABLE_PREFIX = "landing_"
# Athena skips objects whose names start with "_" or "."; the crawler does the same.
EXCLUSIONS = ("**/_*", "**/.*")
SCHEMA_CHANGE_POLICY = {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}
RECRAWL_POLICY = {"RecrawlBehavior": "CRAWL_EVERYTHING"}


def table_level(folder: str = EVENTS_FOLDER) -> int:
    """Glue's absolute table level of `folder` (the bucket is level 1)."""
    return 1 + len([p for p in folder.split("/") if p])


def configuration() -> str:
    """The crawler's Configuration JSON."""
    return json.dumps({
        "Version": 1.0,
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas",
                     "TableLevelConfiguration": table_level()},
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
                          "Tables": {"TableThreshold": 1}},
        "CreatePartitionIndex": False,
    }, sort_keys=True)


def s3_target(bucket: str) -> dict:
    """The deployed target, in the API's shape (the backend narrows `Path` per run)."""
    return {"Path": f"s3://{bucket}/{EVENTS_FOLDER}", "Exclusions": list(EXCLUSIONS)}
