"""The landing zone: the raw bucket (analytics region) and the Firehose streams feeding it.

Two stacks, because the pieces must live in two regions.  CloudFront standard
logging (v2) is configured in us-east-1 and, for a Firehose destination, delivers only
to a stream in that same region; Lambda@Edge's configuration also names one region.
So the streams and the transformation Lambda live in us-east-1 (`DeliveryStack`) and
write across regions into the raw bucket, which stays in the analytics region next to
Glue and Athena (`LandingStack`).  Firehose's S3 destination may be in any region.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.common import (
    FIREHOSE_ERRORS_PREFIX,
    FIREHOSE_EVENTS_PREFIX,
    LOG_RETENTION,
    access_logs_bucket,
    acknowledge,
    acknowledge_wildcards,
    events_stream_name,
    function_log_group,
    lambda_role,
    landing_bucket_name,
    logs_stream_name,
    salt_parameters_arn,
    salt_read_statement,
    secure_bucket,
)
from infra.options import EDGE_REGION, InfraOptions

TRANSFORM_HANDLER = "edge.transform.handler"


class LandingStack(Stack):
    """Analytics region: the raw events bucket Firehose writes to."""

    def __init__(self, scope: Construct, id: str, *, opts: InfraOptions, **kwargs):
        super().__init__(scope, id, **kwargs)
        logs_bucket = access_logs_bucket(self, opts, opts.analytics_region)
        self.bucket = secure_bucket(
            self,
            "Landing",
            landing_bucket_name(opts),
            logs_bucket,
            lifecycle_rules=[s3.LifecycleRule(
                id="expire-raw-events", expiration=Duration.days(opts.raw_retention_days),
            )],
        )
        CfnOutput(self, "LandingUri", value=f"s3://{self.bucket.bucket_name}/",
                  description="EDGESTATS_LANDING_URI")


class DeliveryStack(Stack):
    """us-east-1: the two Firehose streams, the transformation Lambda and their alarms."""

    def __init__(self, scope: Construct, id: str, *, opts: InfraOptions, transform_bundle: Path,
                 **kwargs):
        super().__init__(scope, id, **kwargs)
        self.opts = opts
        bucket_arn = f"arn:{Aws.PARTITION}:s3:::{landing_bucket_name(opts)}"
        topic = (sns.Topic.from_topic_arn(self, "AlarmTopic", opts.alarm_topic_arn)
                 if opts.alarm_topic_arn else None)
        self.alarms: list[cw.Alarm] = []

        transform_name = f"{opts.prefix}-transform"
        transform_logs = function_log_group(self, "TransformLogs", transform_name)
        transform_role = lambda_role(self, "TransformRole", [transform_logs.log_group_arn])
        transform_role.add_to_policy(salt_read_statement(opts))
        acknowledge_wildcards(transform_role, "Read-only access to the daily salts, one parameter "
                              "per UTC day under the salt prefix.", salt_parameters_arn(opts))
        self.transform = lambda_.Function(
            self,
            "Transform",
            function_name=transform_name,
            description="Firehose transformation: CloudFront log records -> canonical events",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=TRANSFORM_HANDLER,
            code=lambda_.Code.from_asset(str(transform_bundle)),
            memory_size=512,
            timeout=Duration.minutes(2),
            role=transform_role,
            log_group=transform_logs,
        )
        acknowledge(self.transform, "Python 3.13 is the runtime the edge code and its bundle "
                    "target (the newest Lambda@Edge supports); both functions share one codebase.",
                    "AwsSolutions-L1")

        self.events_stream = self._stream(
            "EventsStream", events_stream_name(opts), bucket_arn, processor=None,
        )
        self.logs_stream = self._stream(
            "LogsStream", logs_stream_name(opts), bucket_arn, processor=self.transform,
        )
        self._function_alarms("Transform", self.transform)
        if topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(topic))
        CfnOutput(self, "EventsStreamName", value=events_stream_name(opts),
                  description="Firehose stream Lambda@Edge writes to")
        CfnOutput(self, "LogsStreamName", value=logs_stream_name(opts),
                  description="Firehose stream CloudFront standard logging (v2) delivers to")

    def _stream(self, id: str, name: str, bucket_arn: str,
                processor: lambda_.IFunction | None) -> firehose.CfnDeliveryStream:
        log_group = logs.LogGroup(self, f"{id}Logs", log_group_name=f"/aws/kinesisfirehose/{name}",
                                  retention=LOG_RETENTION)
        log_stream = logs.LogStream(self, f"{id}LogStream", log_group=log_group,
                                    log_stream_name="DestinationDelivery")
        role = iam.Role(self, f"{id}Role", assumed_by=iam.ServicePrincipal(
            "firehose.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}))
        role.add_to_policy(iam.PolicyStatement(
            actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            resources=[bucket_arn],
        ))
        role.add_to_policy(iam.PolicyStatement(
            actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            resources=[f"{bucket_arn}/events/*", f"{bucket_arn}/errors/*"],
        ))
        role.add_to_policy(iam.PolicyStatement(
            actions=["logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        ))
        acknowledge_wildcards(role, "Firehose names objects by arrival time under these two "
                              "prefixes; it may write nowhere else in the bucket.",
                              f"{bucket_arn}/events/*", f"{bucket_arn}/errors/*")
        processing = None
        if processor is not None:
            role.add_to_policy(iam.PolicyStatement(
                actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                resources=[processor.function_arn, f"{processor.function_arn}:*"],
            ))
            acknowledge_wildcards(role, "Versions and aliases of the one transformation function.",
                                  f"{processor.function_arn}:*")
            processing = firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                enabled=True,
                processors=[firehose.CfnDeliveryStream.ProcessorProperty(
                    type="Lambda",
                    parameters=[
                        firehose.CfnDeliveryStream.ProcessorParameterProperty(
                            parameter_name=k, parameter_value=v)
                        for k, v in (
                            ("LambdaArn", processor.function_arn),
                            ("NumberOfRetries", "3"),
                            ("BufferSizeInMBs", "1"),
                            ("BufferIntervalInSeconds", "60"),
                        )
                    ],
                )],
            )
        stream = firehose.CfnDeliveryStream(
            self,
            id,
            delivery_stream_name=name,
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=(
                firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                    key_type="AWS_OWNED_CMK")),
            extended_s3_destination_configuration=(
                firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                    bucket_arn=bucket_arn,
                    role_arn=role.role_arn,
                    prefix=FIREHOSE_EVENTS_PREFIX,
                    error_output_prefix=FIREHOSE_ERRORS_PREFIX,
                    compression_format="GZIP",
                    file_extension=".gz",
                    buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                        interval_in_seconds=self.opts.firehose_buffer_seconds,
                        size_in_m_bs=self.opts.firehose_buffer_mib,
                    ),
                    cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                        enabled=True,
                        log_group_name=log_group.log_group_name,
                        log_stream_name=log_stream.log_stream_name,
                    ),
                    processing_configuration=processing,
                )),
            # CloudWatch Logs' delivery role may only write to streams tagged like this.
            tags=[{"key": "LogDeliveryEnabled", "value": "true"}] if processor is not None else None,
        )
        stream.node.add_dependency(role.node.find_child("DefaultPolicy"))  # may write before start
        self._stream_alarms(id, name, with_processing=processor is not None)
        return stream

    def _stream_alarms(self, id: str, name: str, with_processing: bool) -> None:
        def metric(metric_name: str, statistic: str) -> cw.Metric:
            return cw.Metric(namespace="AWS/Firehose", metric_name=metric_name,
                             dimensions_map={"DeliveryStreamName": name},
                             statistic=statistic, period=Duration.minutes(5), region=EDGE_REGION)

        specs = [
            ("DeliveryFailures", metric("DeliveryToS3.Success", "Minimum"), 1,
             cw.ComparisonOperator.LESS_THAN_THRESHOLD, "deliveries to S3 failed"),
            ("DeliveryLag", metric("DeliveryToS3.DataFreshness", "Maximum"), 900,
             cw.ComparisonOperator.GREATER_THAN_THRESHOLD, "records wait over 15 min for S3"),
            ("Throttled", metric("ThrottledRecords", "Sum"), 0,
             cw.ComparisonOperator.GREATER_THAN_THRESHOLD, "records were throttled"),
        ]
        if with_processing:
            specs.append(("TransformFailures", metric("ExecuteProcessing.Success", "Minimum"), 1,
                          cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                          "transformation Lambda invocations failed"))
        for suffix, m, threshold, op, what in specs:
            self.alarms.append(cw.Alarm(
                self, f"{id}{suffix}", metric=m, threshold=threshold, comparison_operator=op,
                evaluation_periods=1, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=f"Firehose {name}: {what}",
            ))

    def _function_alarms(self, id: str, fn: lambda_.Function) -> None:
        for suffix, m in (("Errors", fn.metric_errors()), ("Throttles", fn.metric_throttles())):
            self.alarms.append(cw.Alarm(
                self, f"{id}{suffix}", metric=m.with_(period=Duration.minutes(5), statistic="Sum"),
                threshold=0, comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=f"Lambda {fn.function_name}: {suffix.lower()}",
            ))
