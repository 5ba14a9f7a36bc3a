"""The SSM salt store and the rotation Lambda against moto's server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hmac

import boto3
import pytest
from moto.server import ThreadedMotoServer

from edge import rotate_salts
from edge.normalize import Hit, normalise
from edge.ssm_salts import SaltUnavailable, SsmSaltStore

PREFIX = "/edgestats/salt"
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def ssm(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("ssm", region_name="us-east-1", endpoint_url=moto_endpoint)
    yield client
    names = [
        p["Name"]
        for page in client.get_paginator("get_parameters_by_path").paginate(Path="/", Recursive=True)
        for p in page["Parameters"]
    ]
    for i in range(0, len(names), 10):
        client.delete_parameters(Names=names[i : i + 10])


def put_salt(ssm, day: str, value: str = "00" * 16) -> None:
    ssm.put_parameter(Name=f"{PREFIX}/{day}", Value=value, Type="SecureString")


def stored_days(ssm) -> list[str]:
    params = ssm.get_parameters_by_path(Path=PREFIX)["Parameters"]
    return sorted(p["Name"].rsplit("/", 1)[-1] for p in params)


def test_rotation_creates_today_and_tomorrow_as_secure_strings(ssm):
    now = dt.datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    result = rotate_salts.rotate(ssm, PREFIX, now)
    assert result == {"created": ["2026-11-20", "2026-11-21"], "deleted": [],
                      "kept": ["2026-11-20", "2026-11-21"]}
    param = ssm.get_parameter(Name=f"{PREFIX}/2026-11-20", WithDecryption=True)["Parameter"]
    assert param["Type"] == "SecureString"
    assert len(bytes.fromhex(param["Value"])) == 16


def test_rotation_is_idempotent_and_keeps_existing_values(ssm):
    now = dt.datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    rotate_salts.rotate(ssm, PREFIX, now)
    before = ssm.get_parameter(Name=f"{PREFIX}/2026-11-20", WithDecryption=True)["Parameter"]
    again = rotate_salts.rotate(ssm, PREFIX, now + dt.timedelta(hours=1))
    after = ssm.get_parameter(Name=f"{PREFIX}/2026-11-20", WithDecryption=True)["Parameter"]
    assert again["created"] == []
    assert after["Value"] == before["Value"]


def test_rotation_deletes_salts_48_hours_after_their_day_ended(ssm):
    for day in ("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"):
        put_salt(ssm, day)
    # 2026-11-17 ended at 2026-11-18T00:00Z; exactly 48 h later it is still kept.
    at_boundary = dt.datetime(2026, 11, 20, 0, 0, 0, tzinfo=UTC)
    result = rotate_salts.rotate(ssm, PREFIX, at_boundary)
    assert result["deleted"] == ["2026-11-16"]
    assert stored_days(ssm) == ["2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20",
                                "2026-11-21"]
    result = rotate_salts.rotate(ssm, PREFIX, at_boundary + dt.timedelta(seconds=1))
    assert result["deleted"] == ["2026-11-17"]
    assert result["kept"] == ["2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"]


def test_rotation_deletes_in_batches_and_leaves_foreign_names(ssm):
    for d in range(1, 13):  # twelve expired days: more than one DeleteParameters batch
        put_salt(ssm, f"2026-10-{d:02d}")
    put_salt(ssm, "notes")
    result = rotate_salts.rotate(ssm, PREFIX, dt.datetime(2026, 11, 20, 9, tzinfo=UTC))
    assert result["deleted"] == [f"2026-10-{d:02d}" for d in range(1, 13)]
    assert stored_days(ssm) == ["2026-11-20", "2026-11-21", "notes"]


def test_handler_reads_the_baked_prefix_and_returns_days(ssm):
    result = rotate_salts.handler({}, None, client=ssm,
                                  now=dt.datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    assert result["created"] == ["2026-01-31", "2026-02-01"]


def test_store_fetches_once_per_day_and_caches(ssm):
    put_salt(ssm, "2026-11-20", "ab" * 16)
    put_salt(ssm, "2026-11-21", "cd" * 16)
    store = SsmSaltStore(PREFIX, "us-east-1", client=ssm)
    assert store.salt_for(dt.date(2026, 11, 20)) == bytes.fromhex("ab" * 16)
    assert store.salt_for(dt.date(2026, 11, 20)) == bytes.fromhex("ab" * 16)
    assert store.fetches == 1
    assert store.salt_for(dt.date(2026, 11, 21)) == bytes.fromhex("cd" * 16)
    assert store.fetches == 2


def test_store_keeps_only_the_last_three_days(ssm):
    for d in range(17, 21):
        put_salt(ssm, f"2026-11-{d}", f"{d:02d}" * 16)
    store = SsmSaltStore(PREFIX, "us-east-1", client=ssm)
    for d in range(17, 21):
        store.salt_for(dt.date(2026, 11, d))
    assert sorted(store._cache) == [dt.date(2026, 11, d) for d in (18, 19, 20)]
    store.salt_for(dt.date(2026, 11, 17))
    assert store.fetches == 5


def test_store_missing_or_malformed_salt_is_salt_unavailable(ssm):
    store = SsmSaltStore(PREFIX, "us-east-1", client=ssm)
    with pytest.raises(SaltUnavailable, match="no salt parameter /edgestats/salt/2026-11-20"):
        store.salt_for(dt.date(2026, 11, 20))
    put_salt(ssm, "2026-11-21", "zz")
    with pytest.raises(SaltUnavailable, match="not hex"):
        store.salt_for(dt.date(2026, 11, 21))
    put_salt(ssm, "2026-11-23", "ab" * 15)
    with pytest.raises(SaltUnavailable, match="has 15 bytes"):
        store.salt_for(dt.date(2026, 11, 23))


def test_visitor_id_from_the_ssm_salt(ssm):
    salt = bytes(range(16))
    put_salt(ssm, "2026-11-20", salt.hex())
    hit = Hit(time=dt.datetime(2026, 11, 20, 13, 5, 9, 123000, tzinfo=UTC), event_id="r1",
              host="Example.com", uri="/", client_ip="203.0.113.9", user_agent="UA")
    event = normalise(hit, SsmSaltStore(PREFIX, "us-east-1", client=ssm))
    want = hmac.digest(salt, b"example.com\x00203.0.113.9\x00UA", "sha256")[:8].hex()
    assert event["visitor_id"] == want
