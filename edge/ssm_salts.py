"""The AWS salt store: one SSM Parameter Store SecureString per UTC day (DESIGN section 3).

`edge.rotate_salts` creates the parameters ahead of time and deletes them after 48 h;
the Lambda@Edge and Firehose transformation functions may only read them.  A Lambda
container handles many requests, so each day's salt is fetched once per container
and kept in memory; only the last few days stay cached, so an old salt never
outlives its parameter by more than the container does.
"""

from __future__ import annotations

import datetime as dt
import threading

from edge.config import EdgeConfig
from edge.salts import SALT_BYTES

CACHED_DAYS = 3  # yesterday, today, tomorrow: enough for events near midnight


class SaltUnavailable(LookupError):
    """The day's salt parameter is missing or unusable; callers fail open and skip the hit."""


def parameter_name(prefix: str, day: dt.date) -> str:
    return f"{prefix.rstrip('/')}/{day.isoformat()}"


def parse_salt(value: str) -> bytes:
    """Salts are stored as hex text; anything shorter than 16 bytes is refused."""
    try:
        salt = bytes.fromhex(value.strip())
    except ValueError:
        raise SaltUnavailable("salt parameter is not hex") from None
    if len(salt) < SALT_BYTES:
        raise SaltUnavailable(f"salt parameter has {len(salt)} bytes, need {SALT_BYTES}+")
    return salt


def _ssm_client(region: str, timeout: float):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ssm",
        region_name=region,
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": 2, "mode": "standard"},
        ),
    )


class SsmSaltStore:
    """`salt_for(day) -> bytes`, like `FileSaltStore`, backed by SSM and cached per container."""

    def __init__(
        self,
        prefix: str = "/edgestats/salt",
        region: str = "us-east-1",
        client=None,
        timeout: float = 1.0,
    ):
        self.prefix = prefix
        self.region = region
        self._client = client
        self._timeout = timeout
        self._cache: dict[dt.date, bytes] = {}
        self._lock = threading.Lock()
        self.fetches = 0  # SSM calls made; a test and the benchmark read it

    @classmethod
    def from_config(cls, config: EdgeConfig, client=None) -> SsmSaltStore:
        return cls(config.salt_parameter_prefix, config.salt_region, client=client)

    @property
    def client(self):
        if self._client is None:  # created lazily: cold starts that never need SSM stay cheap
            self._client = _ssm_client(self.region, self._timeout)
        return self._client

    def salt_for(self, day: dt.date) -> bytes:
        salt = self._cache.get(day)
        if salt is not None:
            return salt
        with self._lock:
            salt = self._cache.get(day)
            if salt is None:
                salt = self._fetch(day)
                self._cache[day] = salt
                for old in sorted(self._cache)[:-CACHED_DAYS]:
                    del self._cache[old]
            return salt

    def _fetch(self, day: dt.date) -> bytes:
        name = parameter_name(self.prefix, day)
        self.fetches += 1
        try:
            response = self.client.get_parameter(Name=name, WithDecryption=True)
        except self.client.exceptions.ParameterNotFound:
            raise SaltUnavailable(f"no salt parameter {name}; is the rotation function running?") from None
        return parse_salt(response["Parameter"]["Value"])
