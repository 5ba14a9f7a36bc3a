"""The visitor-hash salts (DESIGN section 3): SSM parameters and their rotation function.

CloudFormation cannot create SecureString parameters, so the rotation function makes
them: hourly (idempotent), and once at deploy time through a trigger, so today's salt
exists before the first page view.  It may create and delete parameters under the salt
prefix and nothing else; the edge and transformation functions may only read them
(`infra.common.salt_read_statement`).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Aws, CfnOutput, Duration, Stack, triggers
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.common import (
    acknowledge,
    acknowledge_wildcards,
    function_log_group,
    lambda_role,
    salt_parameter_prefix,
    salt_parameters_arn,
)
from infra.options import EDGE_REGION, InfraOptions

ROTATE_HANDLER = "edge.rotate_salts.handler"


class SaltsStack(Stack):
    def __init__(self, scope: Construct, id: str, *, opts: InfraOptions, rotate_bundle: Path,
                 **kwargs):
        super().__init__(scope, id, **kwargs)
        prefix = salt_parameter_prefix(opts)
        name = f"{opts.prefix}-rotate-salts"
        log_group = function_log_group(self, "RotateLogs", name)
        role = lambda_role(self, "RotateRole", [log_group.log_group_arn])
        role.add_to_policy(iam.PolicyStatement(
            actions=["ssm:PutParameter", "ssm:DeleteParameters", "ssm:DeleteParameter"],
            resources=[salt_parameters_arn(opts)],
        ))
        role.add_to_policy(iam.PolicyStatement(
            actions=["ssm:GetParametersByPath"],
            resources=[f"arn:{Aws.PARTITION}:ssm:{EDGE_REGION}:{Aws.ACCOUNT_ID}:parameter{prefix}"],
        ))
        self.rotate = lambda_.Function(
            self,
            "Rotate",
            function_name=name,
            description="Creates today's and tomorrow's salts; deletes salts 48 h after their day",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=ROTATE_HANDLER,
            code=lambda_.Code.from_asset(str(rotate_bundle)),
            memory_size=128,
            timeout=Duration.seconds(60),
            role=role,
            log_group=log_group,
        )
        acknowledge(self.rotate, "Python 3.13 is the runtime all edgestats functions target.",
                    "AwsSolutions-L1")
        acknowledge_wildcards(role, "Salts are one parameter per UTC day under the salt prefix; "
                              "rotation creates and deletes days it cannot name in advance.",
                              salt_parameters_arn(opts))

        events.Rule(
            self,
            "Hourly",
            description="Keep today's and tomorrow's salts present; delete expired ones",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[targets.LambdaFunction(self.rotate, retry_attempts=2)],
        )
        triggers.Trigger(self, "RotateOnDeploy", handler=self.rotate,
                         execute_on_handler_change=True, timeout=Duration.minutes(2))
        # The trigger publishes a version of the function; the hourly rule still invokes
        # the unqualified function, which is what its permission is for.
        Annotations.of(self.rotate).acknowledge_warning(
            "@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias",
            "EventBridge invokes the unqualified function; the Trigger calls its version "
            "through its own provider role")
        CfnOutput(self, "SaltParameterPrefix", value=prefix,
                  description="SSM path of the daily salts (SecureString, one per UTC day)")
