"""The scheduled salt rotation Lambda (DESIGN section 3), deployed by infra's Salts stack.

It runs hourly (idempotent): it makes sure today's and tomorrow's salts exist, so the
edge functions find a salt the moment a UTC day begins, and it deletes every salt
whose day ended more than 48 h ago, after which no visitor id can be traced back to
an IP address.  Salt values never leave SSM: nothing here logs them.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets

from edge.config import EdgeConfig
from edge.salts import SALT_BYTES, _expired
from edge.ssm_salts import parameter_name

DELETE_BATCH = 10  # SSM DeleteParameters takes at most 10 names


def _day_of(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(name.rsplit("/", 1)[-1])
    except ValueError:
        return None


def rotate(client, prefix: str, now: dt.datetime) -> dict[str, list[str]]:
    """Create today's and tomorrow's salts if missing; delete expired ones. Returns the days."""
    today = now.astimezone(dt.timezone.utc).date()
    created = []
    for day in (today, today + dt.timedelta(days=1)):
        try:
            client.put_parameter(
                Name=parameter_name(prefix, day),
                Description=f"edgestats visitor-hash salt for {day} (UTC); deleted 48 h after",
                Value=secrets.token_bytes(SALT_BYTES).hex(),
                Type="SecureString",
                Overwrite=False,
            )
            created.append(day.isoformat())
        except client.exceptions.ParameterAlreadyExists:
            pass

    names: list[str] = []
    paginator = client.get_paginator("get_parameters_by_path")
    for page in paginator.paginate(Path=prefix.rstrip("/"), Recursive=False, WithDecryption=False):
        names.extend(p["Name"] for p in page["Parameters"])

    expired = sorted(n for n in names if (d := _day_of(n)) is not None and _expired(d, now))
    for i in range(0, len(expired), DELETE_BATCH):
        client.delete_parameters(Names=expired[i : i + DELETE_BATCH])
    kept = sorted(
        d.isoformat() for n in names if n not in expired and (d := _day_of(n)) is not None
    )
    return {
        "created": created,
        "deleted": [n.rsplit("/", 1)[-1] for n in expired],
        "kept": sorted(set(kept) | set(created)),
    }


def handler(event, context, client=None, now: dt.datetime | None = None) -> dict:
    """Lambda entry point (EventBridge schedule); configuration comes from the baked JSON."""
    config = EdgeConfig.load()
    if client is None:
        import boto3

        client = boto3.client("ssm", region_name=config.salt_region)
    result = rotate(client, config.salt_parameter_prefix, now or dt.datetime.now(dt.timezone.utc))
    print(json.dumps({"rotated": result}))  # days only, never salt values
    return result
