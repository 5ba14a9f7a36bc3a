"""The Glue tables of the landing zone and the warehouse, declared once as Glue API
`TableInput`s (design.md, "Storage layout" and "Backends").

The analytics stack deploys exactly these (`infra/analytics.py` hands them to
CloudFormation, whose `AWS::Glue::Table` TableInput has the API's shape); the Trino
developer stack (`orchestration.devstack`) and the tests create them through the Glue
API.  Columns come from `edge.tables`, which derives them from the event schema.

`landing_events` is the landing zone as text: one row per line, the whole line in one
string column.  Typing happens in SQL (`orchestration/sql/raw_events.sql`, the
`raw_events` view), never in a SerDe: a JSON SerDe coerces a wrong JSON type on Trino
(`"is_bot": "yes"` reads as false, an object as its JSON text) and fails the whole query
on Athena (HIVE_BAD_DATA), where the view reads such a line as NULL columns, counted as
malformed, like the local backend.  The field delimiter is the line feed, which never
occurs inside a line, so no byte of a line is ever split off or unescaped.
"""

from __future__ import annotations

from edge.tables import PARTITION_COLUMN, WAREHOUSE_TABLES, Columns

LANDING_TABLE = "landing_events"  # the landing zone's lines; `raw_events` is a view over it
LANDING_COLUMNS: Columns = (("line", "string"),)

TEXT_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

# a whole line in one column: the line feed ends a line, so it can never split one
LINE_SERDE_PARAMETERS = {"field.delim": "\n", "serialization.format": "\n"}


def _columns(columns: Columns) -> list[dict]:
    return [{"Name": n, "Type": t} for n, t in columns]


def _location(root: str, folder: str) -> str:
    return f"{root.rstrip('/')}/{folder}/"


def landing_table_input(landing_root: str) -> dict:
    """`landing_events` over `<landing_root>/events/`; partitions `dt` = arrival day."""
    return {
        "Name": LANDING_TABLE,
        "Description": "Firehose output, one row per line of the gzip NDJSON objects; "
                       "dt = arrival day. Read it through the raw_events view.",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "text", "compressionType": "gzip",
                       "typeOfData": "file"},
        "PartitionKeys": _columns(((PARTITION_COLUMN, "string"),)),
        "StorageDescriptor": {
            "Columns": _columns(LANDING_COLUMNS),
            "Location": _location(landing_root, "events"),
            "InputFormat": TEXT_INPUT,
            "OutputFormat": TEXT_OUTPUT,
            "Compressed": True,
            "SerdeInfo": {"SerializationLibrary": TEXT_SERDE,
                          "Parameters": dict(LINE_SERDE_PARAMETERS)},
        },
    }


def warehouse_table_input(name: str, warehouse_root: str) -> dict:
    """A Parquet table of the warehouse, `<warehouse_root>/<name>/`, partitioned by `dt`."""
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "parquet.compression": "SNAPPY"},
        "PartitionKeys": _columns(((PARTITION_COLUMN, "string"),)),
        "StorageDescriptor": {
            "Columns": _columns(WAREHOUSE_TABLES[name]),
            "Location": _location(warehouse_root, name),
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
        },
    }


def table_inputs(landing_root: str, warehouse_root: str) -> dict[str, dict]:
    """Every table the pipeline needs, by name: the landing lines, then the warehouse."""
    return {
        LANDING_TABLE: landing_table_input(landing_root),
        **{name: warehouse_table_input(name, warehouse_root) for name in WAREHOUSE_TABLES},
    }
