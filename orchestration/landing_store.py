"""Objects written for the landing zone reach it: a local folder as they are, an S3
landing (`EDGESTATS_LANDING_URI=s3://...`, the athena and trino backends) by upload.

The producers (`edgestats simulate`, `import-logs`) write Firehose-shaped objects into a
folder through the Firehose emulator; for an S3 landing that folder is a scratch folder
under `$EDGESTATS_HOME/tmp`, and `publish` uploads every object under the same relative
key (`events/dt=D/<name>`), so the S3 landing holds exactly what a local one would and a
re-run overwrites the same names instead of adding.  The standard `AWS_ENDPOINT_URL`
reaches S3-compatible storage.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from edge.config import ConfigError, Settings

_UPLOAD_WORKERS = 8


def is_remote(settings: Settings) -> bool:
    return bool(settings.landing_uri and settings.landing_uri.startswith(("s3://", "s3a://")))


def where(settings: Settings) -> str:
    """The landing zone as a user would name it."""
    return settings.landing_uri if is_remote(settings) else str(settings.landing)


@contextmanager
def landing_folder(settings: Settings) -> Iterator[Path]:
    """A folder to write landing objects into; on leaving, they are in the landing zone."""
    if not is_remote(settings):
        yield settings.landing  # the producer creates it, with its own error message
        return
    tmp = settings.home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="landing-outbox-", dir=tmp))
    try:
        yield folder
        publish(folder, settings)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish(folder: Path, settings: Settings) -> int:
    """Upload every object under `folder` to the S3 landing, same relative keys; the count."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from orchestration.backends.catalog import split_s3_uri

    bucket, root = split_s3_uri(settings.landing_uri)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    s3 = boto3.Session(region_name=settings.aws_region).client(
        "s3", endpoint_url=settings.aws_endpoint_url)

    def upload(path: Path) -> None:
        s3.upload_file(str(path), bucket, root + path.relative_to(folder).as_posix())

    try:
        with ThreadPoolExecutor(_UPLOAD_WORKERS) as pool:
            list(pool.map(upload, files))
    except (BotoCoreError, ClientError) as e:
        raise ConfigError(f"cannot write the landing zone {settings.landing_uri}: {e}; check "
                          "EDGESTATS_LANDING_URI, the credentials and AWS_ENDPOINT_URL") from None
    return len(files)
