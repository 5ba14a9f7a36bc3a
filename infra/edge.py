"""The CloudFront side (us-east-1): distribution, Lambda@Edge, and the log-stream door.

Doors (DESIGN section 9), chosen by context `page_door`:
- `log-stream` (default): pages are counted from CloudFront standard logging (v2),
  delivered through `AWS::Logs::DeliverySource/DeliveryDestination/Delivery` to the
  `-logs` Firehose stream; no function runs on page requests, caching stays on.
- `edge`: the Lambda@Edge function runs on page requests too, on viewer-request, or on
  origin-request with caching disabled (context `edge_trigger`); there a CloudFront
  Function on viewer-request copies the viewer's Host to X-Forwarded-Host.
Either way `/_e/*` (pixel, beacon) invokes the function, and asset paths never do.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from edge.logformat import RECOMMENDED_STREAM_FIELDS
from infra.common import (
    access_logs_bucket,
    acknowledge,
    acknowledge_wildcards,
    bucket_name,
    events_stream_name,
    lambda_role,
    logs_stream_name,
    salt_parameters_arn,
    salt_read_statement,
    secure_bucket,
    stream_arn,
)
from infra.options import EDGE_REGION, InfraOptions

EDGE_HANDLER = "edge.handler.handler"
TRACKER_PATH = "/_e/*"
ASSET_PATTERNS = (
    "*.css", "*.js", "*.mjs", "*.map", "*.png", "*.jpg", "*.jpeg", "*.gif", "*.svg", "*.webp",
    "*.avif", "*.ico", "*.woff", "*.woff2", "*.ttf", "*.otf", "*.eot",
)
VIEWER_HEADERS = (
    "CloudFront-Viewer-Country", "CloudFront-Viewer-Country-Region", "CloudFront-Viewer-City",
    "CloudFront-Viewer-Time-Zone", "CloudFront-Viewer-Address",
    "CloudFront-Is-Mobile-Viewer", "CloudFront-Is-Tablet-Viewer", "CloudFront-Is-SmartTV-Viewer",
    "CloudFront-Is-Desktop-Viewer",
)
# An origin request policy takes at most 10 headers.  On origin-request the function also
# needs the viewer's User-Agent and Referer, and the viewer's Host, which the CloudFront
# Function `FORWARD_HOST_CODE` copies to X-Forwarded-Host; desktop and smart-TV viewers
# are then told apart by the User-Agent alone.
FORWARDED_HOST_HEADER = "X-Forwarded-Host"
ORIGIN_REQUEST_HEADERS = tuple(
    h for h in VIEWER_HEADERS
    if h not in ("CloudFront-Is-Desktop-Viewer", "CloudFront-Is-SmartTV-Viewer")
) + ("User-Agent", "Referer", FORWARDED_HOST_HEADER)
FORWARD_HOST_CODE = Path(__file__).with_name("functions") / "forward_host.js"


class EdgeStack(Stack):
    def __init__(self, scope: Construct, id: str, *, opts: InfraOptions, edge_bundle: Path,
                 **kwargs):
        super().__init__(scope, id, **kwargs)
        self.opts = opts
        self.function = self._edge_function(edge_bundle)
        origin = self._origin()
        event_type = (cloudfront.LambdaEdgeEventType.ORIGIN_REQUEST
                      if opts.edge_trigger == "origin-request"
                      else cloudfront.LambdaEdgeEventType.VIEWER_REQUEST)
        headers = ORIGIN_REQUEST_HEADERS if opts.edge_trigger == "origin-request" else VIEWER_HEADERS
        viewer_policy = cloudfront.OriginRequestPolicy(
            self,
            "ViewerHeaders",
            comment="CloudFront-Viewer-* headers for the edgestats function",
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(*headers),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.all(),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.none(),
        )
        security_headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="edgestats security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True,
                    override=False),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.SAMEORIGIN, override=False),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=False),
            ),
        )
        version = self.function.current_version
        pages_use_function = opts.page_door == "edge"
        page_cache = (cloudfront.CachePolicy.CACHING_DISABLED
                      if pages_use_function and opts.edge_trigger == "origin-request"
                      else cloudfront.CachePolicy.CACHING_OPTIMIZED)
        # origin-request pages: a viewer-request CloudFront Function keeps the viewer's Host
        page_functions = None
        if pages_use_function and opts.edge_trigger == "origin-request":
            forward_host = cloudfront.Function(
                self, "ForwardHost",
                function_name=f"{opts.prefix}-forward-host",
                comment="Copies the viewer's Host to X-Forwarded-Host for the edgestats function",
                code=cloudfront.FunctionCode.from_inline(FORWARD_HOST_CODE.read_text()),
                runtime=cloudfront.FunctionRuntime.JS_2_0,
            )
            page_functions = [cloudfront.FunctionAssociation(
                function=forward_host, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)]
        behaviors = {
            # First: CloudFront matches behaviours in order, and `*.gif` would catch the pixel.
            TRACKER_PATH: cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=viewer_policy,
                response_headers_policy=security_headers,
                edge_lambdas=[cloudfront.EdgeLambda(
                    event_type=event_type, function_version=version, include_body=True)],
            ),
        }
        for pattern in ASSET_PATTERNS:
            behaviors[pattern] = cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=security_headers,
                compress=True,
            )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{opts.prefix}: site with privacy-friendly analytics",
            default_root_object="index.html" if opts.origin_domain is None else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=page_cache,
                origin_request_policy=viewer_policy,
                response_headers_policy=security_headers,
                compress=True,
                edge_lambdas=[cloudfront.EdgeLambda(event_type=event_type, function_version=version)]
                if pages_use_function else None,
                function_associations=page_functions,
            ),
            additional_behaviors=behaviors,
        )
        acknowledge(self.distribution,
                    "Access logs go through CloudFront standard logging v2 "
                    "(AWS::Logs::Delivery to Firehose), which this rule does not recognise.",
                    "AwsSolutions-CFR3")
        acknowledge(self.distribution,
                    "The default *.cloudfront.net certificate is used until a custom domain "
                    "and ACM certificate are added; that certificate fixes the TLS floor.",
                    "AwsSolutions-CFR4")
        acknowledge(self.distribution,
                    "A public website: it serves every country; restrict it in the console "
                    "if your site must.", "AwsSolutions-CFR1")
        acknowledge(self.distribution,
                    "A web ACL costs a monthly fee per distribution, more than this stack; "
                    "attach your own WAF when the site needs one.", "AwsSolutions-CFR2")
        if opts.page_door == "log-stream":
            self._log_delivery()

        CfnOutput(self, "DistributionDomain", value=self.distribution.distribution_domain_name,
                  description="Point the site's DNS here")
        CfnOutput(self, "DistributionId", value=self.distribution.distribution_id)
        CfnOutput(self, "EdgeFunctionVersion", value=version.function_arn)

    def _edge_function(self, bundle: Path) -> lambda_.Function:
        name = f"{self.opts.prefix}-edge"
        # Lambda@Edge writes logs in every region it runs in, as /aws/lambda/us-east-1.<name>.
        log_arns = [
            f"arn:{Aws.PARTITION}:logs:*:{Aws.ACCOUNT_ID}:log-group:/aws/lambda/{EDGE_REGION}.{name}:*",
            f"arn:{Aws.PARTITION}:logs:{EDGE_REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/lambda/{name}:*",
        ]
        role = lambda_role(self, "EdgeRole", log_arns, edge=True)
        role.add_to_policy(iam.PolicyStatement(
            actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
            resources=[stream_arn(events_stream_name(self.opts))],
        ))
        role.add_to_policy(salt_read_statement(self.opts))
        acknowledge_wildcards(role, "Lambda@Edge replicas log to their own region's log group "
                              "(any region CloudFront runs the function in) and read the "
                              "daily salts, one parameter per UTC day.",
                              *log_arns, salt_parameters_arn(self.opts))
        fn = cloudfront.experimental.EdgeFunction(
            self,
            "Tracker",
            function_name=name,
            description="edgestats: page views, pixel and beacon -> Firehose (fail-open)",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler=EDGE_HANDLER,
            code=lambda_.Code.from_asset(str(bundle)),
            memory_size=128,
            timeout=Duration.seconds(5),
            role=role,
        )
        acknowledge(fn, "Python 3.13 is the newest runtime Lambda@Edge supports; the bundle "
                    "is built for it.", "AwsSolutions-L1")
        self.edge_role = role
        return fn

    def _origin(self) -> cloudfront.IOrigin:
        if self.opts.origin_domain:
            return origins.HttpOrigin(self.opts.origin_domain,
                                      protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY)
        logs_bucket = access_logs_bucket(self, self.opts, EDGE_REGION)
        self.site_bucket = secure_bucket(self, "Site", bucket_name(self.opts, "site", EDGE_REGION),
                                         logs_bucket)
        CfnOutput(self, "SiteBucket", value=self.site_bucket.bucket_name,
                  description="Upload the site here")
        return origins.S3BucketOrigin.with_origin_access_control(self.site_bucket)

    def _log_delivery(self) -> None:
        """CloudFront standard logging (v2) -> the `-logs` Firehose stream (same region)."""
        prefix = self.opts.prefix
        source = logs.CfnDeliverySource(
            self,
            "AccessLogSource",
            name=f"{prefix}-cloudfront-access-logs",
            log_type="ACCESS_LOGS",
            resource_arn=self.distribution.distribution_arn,
        )
        destination = logs.CfnDeliveryDestination(
            self,
            "AccessLogDestination",
            name=f"{prefix}-log-stream",
            destination_resource_arn=stream_arn(logs_stream_name(self.opts)),
            output_format="json",
        )
        logs.CfnDelivery(  # Ref and GetAtt below order it after the source and destination
            self,
            "AccessLogDelivery",
            delivery_source_name=source.ref,
            delivery_destination_arn=destination.attr_arn,
            record_fields=list(RECOMMENDED_STREAM_FIELDS),
        )
