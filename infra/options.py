"""Deployment options, read once from CDK context (cdk.json or `cdk synth -c key=value`).

Every option has a documented default (docs/deploy.md), so `cdk synth` works with no
account and no network.  A bad value stops synth with one line naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

EDGE_REGION = "us-east-1"  # Lambda@Edge, CloudFront log delivery and its Firehose target
EDGE_TRIGGERS = ("viewer-request", "origin-request")
PAGE_DOORS = ("log-stream", "edge")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class InfraConfigError(ValueError):
    """A context value is unusable; the message names the key and what to do."""


@dataclass(frozen=True)
class InfraOptions:
    prefix: str = "edgestats"  # names of buckets, streams, functions, the Glue database
    account: str | None = None  # None: environment-agnostic templates (resolved at deploy)
    analytics_region: str = "eu-west-1"  # landing, warehouse, Glue, Athena
    raw_retention_days: int = 400  # landing-zone objects expire after this many days
    page_door: str = "log-stream"  # how pages are counted: log-stream | edge (Lambda@Edge)
    edge_trigger: str = "viewer-request"  # viewer-request | origin-request (caching disabled)
    origin_domain: str | None = None  # an existing origin instead of the S3 site bucket
    allowed_sites: tuple[str, ...] = ()  # hosts the edge code accepts; empty: any
    firehose_buffer_seconds: int = 60
    firehose_buffer_mib: int = 5
    athena_bytes_scanned_cutoff_mb: int = 10240  # per query
    dagster_principal_arn: str | None = None  # who may assume the Dagster role; default: account
    alarm_topic_arn: str | None = None  # SNS topic for alarms (optional)
    bundle_dir: str = "build/lambda"  # where Lambda bundles are assembled at synth
    nag: bool = True  # run cdk-nag AwsSolutions checks during synth

    @property
    def glue_database(self) -> str:
        return self.prefix.replace("-", "_")

    @classmethod
    def from_context(cls, get) -> InfraOptions:
        """`get(key)` returns a context value or None (e.g. `app.node.try_get_context`)."""
        values = {}
        for f in fields(cls):
            raw = get(f.name)
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.name, raw, f.default)
        opts = cls(**values)
        opts.validate()
        return opts

    def validate(self) -> None:
        def bad(key: str, why: str) -> InfraConfigError:
            return InfraConfigError(f"context {key}={getattr(self, key)!r}: {why}")

        if not _PREFIX.match(self.prefix):
            raise bad("prefix", "use 2-20 lowercase letters, digits or '-', starting with a letter")
        if self.account is not None and not _ACCOUNT.match(self.account):
            raise bad("account", "use a 12-digit AWS account id")
        if not _REGION.match(self.analytics_region):
            raise bad("analytics_region", "use a region name such as eu-west-1")
        if not 1 <= self.raw_retention_days <= 3650:
            raise bad("raw_retention_days", "use a number of days between 1 and 3650")
        if self.page_door not in PAGE_DOORS:
            raise bad("page_door", f"use one of {', '.join(PAGE_DOORS)}")
        if self.edge_trigger not in EDGE_TRIGGERS:
            raise bad("edge_trigger", f"use one of {', '.join(EDGE_TRIGGERS)}")
        if self.origin_domain is not None and not _HOST.match(self.origin_domain):
            raise bad("origin_domain", "use a host name such as origin.example.com")
        for site in self.allowed_sites:
            if not _HOST.match(site):
                raise InfraConfigError(f"context allowed_sites: {site!r} is not a host name")
        if not 0 <= self.firehose_buffer_seconds <= 900:
            raise bad("firehose_buffer_seconds", "Firehose accepts 0-900 seconds")
        if not 1 <= self.firehose_buffer_mib <= 128:
            raise bad("firehose_buffer_mib", "Firehose accepts 1-128 MiB")
        if self.athena_bytes_scanned_cutoff_mb < 10:
            raise bad("athena_bytes_scanned_cutoff_mb", "Athena's smallest cutoff is 10 MB")
        for key in ("dagster_principal_arn", "alarm_topic_arn"):
            v = getattr(self, key)
            if v is not None and not v.startswith("arn:"):
                raise bad(key, "use a full ARN")


def _coerce(key: str, raw, default):
    """Context values arrive as JSON from cdk.json or as strings from `-c key=value`."""
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "1", "yes"):
            return True
        if str(raw).lower() in ("false", "0", "no"):
            return False
        raise InfraConfigError(f"context {key}={raw!r}: use true or false")
    if isinstance(default, int):
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise InfraConfigError(f"context {key}={raw!r}: use a whole number") from None
    if isinstance(default, tuple):
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(s).strip().lower() for s in items if str(s).strip())
    return str(raw).strip()
