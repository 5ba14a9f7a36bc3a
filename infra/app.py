"""The edgestats CDK app: `make synth`, `cdk synth`, or `python -m infra.app`.

Five stacks in two regions (docs/deploy.md explains the layout and the order):
  <Prefix>Landing    analytics region  raw bucket
  <Prefix>Analytics  analytics region  Glue, crawler, warehouse, Athena, Dagster role
  <Prefix>Salts      us-east-1         salt parameters' rotation function
  <Prefix>Delivery   us-east-1         Firehose streams, transformation Lambda, alarms
  <Prefix>Edge       us-east-1         CloudFront, Lambda@Edge, standard logging v2
Synthesis needs no AWS account and no network: Lambda bundles are assembled from
this environment's installed packages.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# jsii warns on every start that this machine's Node is past end-of-life; synth works.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from edge.config import EdgeConfig  # noqa: E402
from infra.analytics import AnalyticsStack  # noqa: E402
from infra.bundling import BundleError, build_bundle  # noqa: E402
from infra.common import events_stream_name, salt_parameter_prefix  # noqa: E402
from infra.edge import EdgeStack  # noqa: E402
from infra.landing import DeliveryStack, LandingStack  # noqa: E402
from infra.options import EDGE_REGION, InfraConfigError, InfraOptions  # noqa: E402
from infra.salts import SaltsStack  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Bundles:
    edge: Path
    transform: Path
    rotate: Path


@dataclass
class EdgestatsApp:
    app: cdk.App
    opts: InfraOptions
    bundles: Bundles
    landing: LandingStack
    analytics: AnalyticsStack
    salts: SaltsStack
    delivery: DeliveryStack
    edge: EdgeStack

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [self.landing, self.analytics, self.salts, self.delivery, self.edge]


def edge_config(opts: InfraOptions) -> EdgeConfig:
    """What the functions read from `edge/edge_config.json` (Lambda@Edge has no env vars)."""
    return EdgeConfig(
        firehose_stream=events_stream_name(opts),
        firehose_region=EDGE_REGION,
        salt_parameter_prefix=salt_parameter_prefix(opts),
        salt_region=EDGE_REGION,
        allowed_sites=opts.allowed_sites,
    )


def build_bundles(opts: InfraOptions) -> Bundles:
    out = Path(opts.bundle_dir)
    if not out.is_absolute():
        out = ROOT / out
    config = edge_config(opts)
    return Bundles(
        edge=build_bundle("edge", ["edge.handler"], config, out),
        transform=build_bundle("transform", ["edge.transform"], config, out),
        rotate=build_bundle("rotate-salts", ["edge.rotate_salts"], config, out),
    )


def default_context() -> dict:
    """cdk.json's context, so `python -m infra.app` synthesises what `cdk synth` does."""
    return json.loads((ROOT / "cdk.json").read_text()).get("context", {})


def build_app(context: dict | None = None, outdir: str | None = None) -> EdgestatsApp:
    """Context given here overrides cdk.json; the CDK CLI's `-c` overrides both."""
    app = cdk.App(context={**default_context(), **(context or {})}, outdir=outdir)
    opts = InfraOptions.from_context(app.node.try_get_context)
    bundles = build_bundles(opts)
    name = opts.prefix.title().replace("-", "")

    def env(region: str) -> cdk.Environment:
        return cdk.Environment(account=opts.account, region=region)

    landing = LandingStack(app, f"{name}Landing", opts=opts, env=env(opts.analytics_region),
                           description="edgestats landing zone: raw events bucket")
    analytics = AnalyticsStack(app, f"{name}Analytics", opts=opts, env=env(opts.analytics_region),
                               description="edgestats catalog, Athena workgroup, Dagster role")
    analytics.add_stack_dependency(landing)
    salts = SaltsStack(app, f"{name}Salts", opts=opts, rotate_bundle=bundles.rotate,
                       env=env(EDGE_REGION), description="edgestats daily visitor-hash salts")
    delivery = DeliveryStack(app, f"{name}Delivery", opts=opts, transform_bundle=bundles.transform,
                             env=env(EDGE_REGION),
                             description="edgestats Firehose streams into the landing bucket")
    delivery.add_stack_dependency(landing)
    delivery.add_stack_dependency(salts)
    edge = EdgeStack(app, f"{name}Edge", opts=opts, edge_bundle=bundles.edge, env=env(EDGE_REGION),
                     description="edgestats CloudFront distribution and Lambda@Edge")
    edge.add_stack_dependency(delivery)
    for stack in (landing, analytics, salts, delivery, edge):
        cdk.Tags.of(stack).add("project", "edgestats")
    if opts.nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return EdgestatsApp(app, opts, bundles, landing, analytics, salts, delivery, edge)


def main() -> int:
    try:
        # The CDK CLI passes CDK_OUTDIR; run alone, write where the CLI would.
        build_app(outdir=os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out")).app.synth()
    except (InfraConfigError, BundleError) as e:
        print(f"edgestats synth: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
