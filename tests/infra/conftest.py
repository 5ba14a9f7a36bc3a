"""Synthesis is slow (jsii), so each app variant is synthesised once per test session."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass
class Synth:
    outdir: Path
    app: object  # infra.app.EdgestatsApp

    def template(self, stack: str) -> dict:
        return json.loads((self.outdir / f"Edgestats{stack}.template.json").read_text())

    def metadata(self, stack: str) -> dict:
        return json.loads((self.outdir / f"Edgestats{stack}.metadata.json").read_text())


def _synth(tmp_path_factory, name: str, context: dict) -> Synth:
    from infra.app import build_app

    out = tmp_path_factory.mktemp(name)
    bundles = tmp_path_factory.getbasetemp() / "bundles"
    app = build_app({"bundle_dir": str(bundles), **context}, outdir=str(out / "cdk.out"))
    app.app.synth()  # raises when cdk-nag finds an unacknowledged error
    return Synth(out / "cdk.out", app)


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synth:
    """The default deployment (cdk.json context), cdk-nag on."""
    return _synth(tmp_path_factory, "default", {})


@pytest.fixture(scope="session")
def synth_edge_door(tmp_path_factory) -> Synth:
    """Pages through Lambda@Edge on origin-request, an existing origin, cdk-nag on."""
    return _synth(tmp_path_factory, "edge-door", {
        "page_door": "edge", "edge_trigger": "origin-request",
        "origin_domain": "origin.example.com", "raw_retention_days": "30",
        "allowed_sites": "example.com,www.example.com", "prefix": "edgestats",
    })
