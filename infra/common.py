"""Building blocks every stack shares: names, secure buckets, Lambda roles, nag acknowledgments."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from infra.options import EDGE_REGION, InfraOptions

EVENTS_PREFIX = "events/"
QUARANTINE_PREFIX = "quarantine/"  # damaged landing objects as delivered (the backends repair)
FIREHOSE_EVENTS_PREFIX = "events/dt=!{timestamp:yyyy-MM-dd}/"
FIREHOSE_ERRORS_PREFIX = "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
SALT_PREFIX = "/edgestats/salt"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def acknowledge(construct: IConstruct, reason: str, *rule_ids: str) -> None:
    """Record why a cdk-nag finding does not apply; every acknowledgment carries its reason."""
    Validations.of(construct).acknowledge(*(Acknowledgment(id=r, reason=reason) for r in rule_ids))


def _nag_form(stack: Stack, value: str) -> str:
    """A resource string as cdk-nag prints it: `<AWS::AccountId>`, `<Logical.Arn>`."""
    resolved = stack.resolve(value)
    parts = resolved["Fn::Join"][1] if isinstance(resolved, dict) else [resolved]
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif "Ref" in part:
            out.append(f"<{part['Ref']}>")
        else:
            logical, attr = part["Fn::GetAtt"]
            out.append(f"<{logical}.{attr}>")
    return "".join(out)


def acknowledge_wildcards(role: iam.Role, reason: str, *resources: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly these wildcard resources of `role`."""
    stack = Stack.of(role)
    acknowledge(role.node.find_child("DefaultPolicy"), reason,
                *(f"AwsSolutions-IAM5[Resource::{_nag_form(stack, r)}]" for r in resources))


# ------------------------------------------------------------------ names


def bucket_name(opts: InfraOptions, role: str, region: str) -> str:
    """Deterministic, so stacks in other regions can address a bucket without exports."""
    return f"{opts.prefix}-{role}-{Aws.ACCOUNT_ID}-{region}"


def landing_bucket_name(opts: InfraOptions) -> str:
    return bucket_name(opts, "landing", opts.analytics_region)


def events_stream_name(opts: InfraOptions) -> str:
    """The stream Lambda@Edge (pages, pixel, beacon) puts canonical events to."""
    return f"{opts.prefix}-events"


def logs_stream_name(opts: InfraOptions) -> str:
    """The stream CloudFront standard logging (v2) delivers access-log records to."""
    return f"{opts.prefix}-logs"


def stream_arn(name: str) -> str:
    return f"arn:{Aws.PARTITION}:firehose:{EDGE_REGION}:{Aws.ACCOUNT_ID}:deliverystream/{name}"


def salt_parameter_prefix(opts: InfraOptions) -> str:
    return SALT_PREFIX if opts.prefix == "edgestats" else f"/{opts.prefix}/salt"


def salt_parameters_arn(opts: InfraOptions) -> str:
    return (f"arn:{Aws.PARTITION}:ssm:{EDGE_REGION}:{Aws.ACCOUNT_ID}:parameter"
            f"{salt_parameter_prefix(opts)}/*")


def salt_read_statement(opts: InfraOptions) -> iam.PolicyStatement:
    """The only salt access the edge and transformation functions get: read one day's salt."""
    return iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[salt_parameters_arn(opts)])


# ------------------------------------------------------------------ buckets


def access_logs_bucket(scope: Construct, opts: InfraOptions, region: str) -> s3.Bucket:
    bucket = s3.Bucket(
        scope,
        "AccessLogs",
        bucket_name=bucket_name(opts, "access-logs", region),
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[s3.LifecycleRule(id="expire", expiration=Duration.days(90))],
        removal_policy=RemovalPolicy.RETAIN,
    )
    acknowledge(bucket, "This is the server access log bucket; logging it into itself would loop.",
                "AwsSolutions-S1")
    return bucket


def secure_bucket(scope: Construct, id: str, name: str, logs_bucket: s3.IBucket,
                  lifecycle_rules: list[s3.LifecycleRule] | None = None) -> s3.Bucket:
    """Private, encrypted, TLS-only, access-logged, kept when the stack is deleted."""
    return s3.Bucket(
        scope,
        id,
        bucket_name=name,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=logs_bucket,
        server_access_logs_prefix=f"{id.lower()}/",
        lifecycle_rules=[
            s3.LifecycleRule(id="abort-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)),
            *(lifecycle_rules or []),
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )


# ------------------------------------------------------------------ Lambda


def function_log_group(scope: Construct, id: str, function_name: str) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        id,
        log_group_name=f"/aws/lambda/{function_name}",
        retention=LOG_RETENTION,
        removal_policy=RemovalPolicy.DESTROY,
    )


def lambda_role(scope: Construct, id: str, log_group_arns: list[str], edge: bool = False) -> iam.Role:
    """A role that may write its own logs and nothing else until statements are added."""
    principal: iam.IPrincipal = iam.ServicePrincipal("lambda.amazonaws.com")
    if edge:
        principal = iam.CompositePrincipal(principal, iam.ServicePrincipal("edgelambda.amazonaws.com"))
    role = iam.Role(scope, id, assumed_by=principal)
    role.add_to_policy(iam.PolicyStatement(
        actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        resources=log_group_arns,
    ))
    return role
