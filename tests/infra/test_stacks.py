"""Stack contents, asserted on the synthesised templates (aws_cdk.assertions.Template)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from aws_cdk.assertions import Match, Template

from edge import catalog
from edge.logformat import RECOMMENDED_STREAM_FIELDS
from edge.schema import FIELDS
from edge.tables import WAREHOUSE_TABLES
from infra.edge import ASSET_PATTERNS, FORWARD_HOST_CODE, VIEWER_HEADERS

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def tpl(synth, stack) -> Template:
    return Template.from_json(synth.template(stack))


def resources(template: dict, type_: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(template: dict, type_: str) -> dict:
    found = list(resources(template, type_).values())
    assert len(found) == 1, f"{len(found)} {type_}"
    return found[0]["Properties"]


def statements(template: dict) -> list[dict]:
    out = []
    for res in template["Resources"].values():
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::Role"):
            docs = [res["Properties"].get("PolicyDocument")] + [
                p["PolicyDocument"] for p in res["Properties"].get("Policies", [])]
            for doc in filter(None, docs):
                out.extend(doc["Statement"])
    return out


def flat(value) -> str:
    """A resource ARN expression as one string, tokens kept readable."""
    return json.dumps(value, sort_keys=True)


# ------------------------------------------------------------------ landing


def test_landing_bucket_is_private_encrypted_tls_only_and_expires(synth):
    t = tpl(synth, "Landing")
    t.has_resource_properties("AWS::S3::Bucket", {
        "BucketName": {"Fn::Join": ["", ["edgestats-landing-", {"Ref": "AWS::AccountId"},
                                         "-eu-west-1"]]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "LifecycleConfiguration": {"Rules": Match.array_with([
            {"Id": "expire-raw-events", "ExpirationInDays": 400, "Status": "Enabled"}])},
        "LoggingConfiguration": Match.object_like({"LogFilePrefix": "landing/"}),
    })
    t.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement":
        Match.array_with([Match.object_like({
            "Effect": "Deny", "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}})


def test_retention_days_come_from_context(synth_edge_door):
    t = tpl(synth_edge_door, "Landing")
    t.has_resource_properties("AWS::S3::Bucket", {"LifecycleConfiguration": {"Rules":
        Match.array_with([Match.object_like({"Id": "expire-raw-events",
                                             "ExpirationInDays": 30})])}})


# ------------------------------------------------------------------ delivery


def _streams(synth) -> dict[str, dict]:
    t = synth.template("Delivery")
    return {r["Properties"]["DeliveryStreamName"]: r["Properties"]
            for r in resources(t, "AWS::KinesisFirehose::DeliveryStream").values()}


def test_firehose_streams_write_the_design_prefixes_gzip_60s_5mib(synth):
    streams = _streams(synth)
    assert sorted(streams) == ["edgestats-events", "edgestats-logs"]
    for props in streams.values():
        s3 = props["ExtendedS3DestinationConfiguration"]
        assert s3["Prefix"] == "events/dt=!{timestamp:yyyy-MM-dd}/"
        assert s3["ErrorOutputPrefix"] == (
            "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/")
        assert s3["CompressionFormat"] == "GZIP"
        assert s3["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 5}
        assert s3["BucketARN"] == {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":s3:::edgestats-landing-",
            {"Ref": "AWS::AccountId"}, "-eu-west-1"]]}
        assert props["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}


def test_only_the_log_stream_is_transformed_and_tagged_for_log_delivery(synth):
    streams = _streams(synth)
    events, logs = streams["edgestats-events"], streams["edgestats-logs"]
    assert "ProcessingConfiguration" not in events["ExtendedS3DestinationConfiguration"]
    assert {"Key": "LogDeliveryEnabled", "Value": "true"} not in events["Tags"]
    proc = logs["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in proc["Processors"][0]["Parameters"]}
    transform_id = next(iter(resources(synth.template("Delivery"), "AWS::Lambda::Function")))
    assert params["LambdaArn"] == {"Fn::GetAtt": [transform_id, "Arn"]}
    assert {"Key": "LogDeliveryEnabled", "Value": "true"} in logs["Tags"]
    tpl(synth, "Delivery").has_resource_properties("AWS::Lambda::Function", {
        "Handler": "edge.transform.handler", "Runtime": "python3.13",
        "FunctionName": "edgestats-transform"})


def test_alarms_cover_delivery_failures_lag_throttling_and_the_transform(synth):
    alarms = resources(synth.template("Delivery"), "AWS::CloudWatch::Alarm").values()
    seen = sorted((a["Properties"].get("MetricName"),
                   (a["Properties"].get("Dimensions") or [{}])[0].get("Value"))
                  for a in alarms)
    fn = {"Ref": next(iter(resources(synth.template("Delivery"), "AWS::Lambda::Function")))}
    assert seen == sorted([
        ("DeliveryToS3.Success", "edgestats-events"), ("DeliveryToS3.Success", "edgestats-logs"),
        ("DeliveryToS3.DataFreshness", "edgestats-events"),
        ("DeliveryToS3.DataFreshness", "edgestats-logs"),
        ("ThrottledRecords", "edgestats-events"), ("ThrottledRecords", "edgestats-logs"),
        ("ExecuteProcessing.Success", "edgestats-logs"),
        ("Errors", fn), ("Throttles", fn),
    ], key=str)


def test_firehose_roles_write_only_under_events_and_errors(synth):
    for st in statements(synth.template("Delivery")):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if "s3:PutObject" in actions:
            assert [flat(r).split("eu-west-1")[-1] for r in st["Resource"]] == [
                '/events/*"]]}', '/errors/*"]]}']


# ------------------------------------------------------------------ salts


def test_salt_rotation_runs_hourly_and_may_touch_only_salt_parameters(synth):
    t = synth.template("Salts")
    tpl(synth, "Salts").has_resource_properties("AWS::Lambda::Function", {
        "Handler": "edge.rotate_salts.handler", "Runtime": "python3.13"})
    tpl(synth, "Salts").has_resource_properties("AWS::Events::Rule",
                                                 {"ScheduleExpression": "rate(1 hour)"})
    ssm = [s for s in statements(t) if any(a.startswith("ssm:") for a in
                                           (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))]
    assert ssm and all("parameter/edgestats/salt" in flat(s["Resource"]) for s in ssm)


# ------------------------------------------------------------------ edge


def _distribution(synth) -> dict:
    return only(synth.template("Edge"), "AWS::CloudFront::Distribution")["DistributionConfig"]


def test_tracker_behaviour_comes_first_and_runs_the_function_with_body(synth):
    behaviours = _distribution(synth)["CacheBehaviors"]
    first = behaviours[0]
    assert first["PathPattern"] == "/_e/*"
    assert first["CachePolicyId"] == CACHING_DISABLED
    assert "POST" in first["AllowedMethods"] and "OPTIONS" in first["AllowedMethods"]
    (assoc,) = first["LambdaFunctionAssociations"]
    assert assoc["EventType"] == "viewer-request" and assoc["IncludeBody"] is True


def test_assets_never_invoke_the_function(synth, synth_edge_door):
    for s in (synth, synth_edge_door):
        behaviours = {b["PathPattern"]: b for b in _distribution(s)["CacheBehaviors"]}
        assert sorted(behaviours) == sorted(("/_e/*", *ASSET_PATTERNS))
        for pattern in ASSET_PATTERNS:
            assert "LambdaFunctionAssociations" not in behaviours[pattern], pattern


def test_log_stream_door_keeps_pages_function_free_and_cached(synth):
    default = _distribution(synth)["DefaultCacheBehavior"]
    assert "LambdaFunctionAssociations" not in default
    assert default["CachePolicyId"] == CACHING_OPTIMIZED


def test_standard_logging_v2_delivers_to_the_logs_stream(synth):
    t = synth.template("Edge")
    source = only(t, "AWS::Logs::DeliverySource")
    assert source["LogType"] == "ACCESS_LOGS"
    dist_id = next(iter(resources(t, "AWS::CloudFront::Distribution")))
    assert dist_id in flat(source["ResourceArn"])
    destination = only(t, "AWS::Logs::DeliveryDestination")
    assert destination["OutputFormat"] == "json"
    assert flat(destination["DestinationResourceArn"]).endswith(
        ':firehose:us-east-1:", {"Ref": "AWS::AccountId"}, ":deliverystream/edgestats-logs"]]}')
    delivery = only(t, "AWS::Logs::Delivery")
    assert delivery["RecordFields"] == list(RECOMMENDED_STREAM_FIELDS)


def test_edge_door_on_origin_request_disables_caching_for_pages(synth_edge_door):
    t = synth_edge_door.template("Edge")
    default = _distribution(synth_edge_door)["DefaultCacheBehavior"]
    (assoc,) = default["LambdaFunctionAssociations"]
    assert assoc["EventType"] == "origin-request"
    assert default["CachePolicyId"] == CACHING_DISABLED
    assert not resources(t, "AWS::Logs::Delivery")
    assert not resources(t, "AWS::S3::Bucket")  # an existing origin: no site bucket
    origin = _distribution(synth_edge_door)["Origins"][0]
    assert origin["DomainName"] == "origin.example.com"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_site_bucket_is_served_through_origin_access_control(synth):
    t = synth.template("Edge")
    only(t, "AWS::CloudFront::OriginAccessControl")
    origin = _distribution(synth)["Origins"][0]
    assert "OriginAccessControlId" in origin


def test_origin_request_policy_forwards_viewer_headers(synth, synth_edge_door):
    policy = only(synth.template("Edge"), "AWS::CloudFront::OriginRequestPolicy")
    headers = policy["OriginRequestPolicyConfig"]["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"
    assert headers["Headers"] == list(VIEWER_HEADERS)
    policy = only(synth_edge_door.template("Edge"), "AWS::CloudFront::OriginRequestPolicy")
    headers = policy["OriginRequestPolicyConfig"]["HeadersConfig"]["Headers"]
    assert len(headers) == 10  # CloudFront's limit per origin request policy
    assert {"User-Agent", "Referer", "X-Forwarded-Host"} <= set(headers)


def test_origin_request_mode_copies_the_viewer_host_in_a_cloudfront_function(synth_edge_door):
    t = synth_edge_door.template("Edge")
    fn_id, fn = next(iter(resources(t, "AWS::CloudFront::Function").items()))
    props = fn["Properties"]
    assert props["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert props["FunctionCode"] == FORWARD_HOST_CODE.read_text()
    assert props["AutoPublish"] is True
    tpl(synth_edge_door, "Edge").has_resource_properties("AWS::CloudFront::Function", {
        "Name": Match.string_like_regexp("forward-host"),
        "FunctionConfig": Match.object_like({"Runtime": "cloudfront-js-2.0"})})
    default = _distribution(synth_edge_door)["DefaultCacheBehavior"]
    assert default["FunctionAssociations"] == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [fn_id, "FunctionARN"]}}]
    assert default["LambdaFunctionAssociations"][0]["EventType"] == "origin-request"
    # the tracker reads the page's host from its `u` parameter: no function there
    for b in _distribution(synth_edge_door)["CacheBehaviors"]:
        assert "FunctionAssociations" not in b, b["PathPattern"]


def test_viewer_request_mode_has_no_cloudfront_function(synth):
    assert not resources(synth.template("Edge"), "AWS::CloudFront::Function")
    assert "FunctionAssociations" not in _distribution(synth)["DefaultCacheBehavior"]


def _run_forward_host(headers: dict) -> dict:
    """The function's code as CloudFront runs it: `handler(event)` on a viewer request."""
    script = (FORWARD_HOST_CODE.read_text()
              + "\nprocess.stdout.write(JSON.stringify(handler(JSON.parse(process.argv[1]))));")
    event = {"version": "1.0", "context": {"eventType": "viewer-request"},
             "viewer": {"ip": "198.51.100.7"},
             "request": {"method": "GET", "uri": "/pricing", "querystring": {},
                         "headers": headers, "cookies": {}}}
    out = subprocess.run(["node", "-e", script, json.dumps(event)], capture_output=True,
                         text=True, timeout=30, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (the CDK's jsii runs on it)")
def test_forward_host_function_copies_host_and_drops_a_viewer_sent_value():
    got = _run_forward_host({"host": {"value": "www.example.com"},
                             "x-forwarded-host": {"value": "evil.example.org"},
                             "user-agent": {"value": "UA"}})
    assert got["headers"] == {"host": {"value": "www.example.com"},
                              "x-forwarded-host": {"value": "www.example.com"},
                              "user-agent": {"value": "UA"}}
    assert got["uri"] == "/pricing"
    got = _run_forward_host({"x-forwarded-host": {"value": "evil.example.org"}})
    assert got["headers"] == {}


def test_response_headers_policy_sets_security_headers(synth):
    cfg = only(synth.template("Edge"), "AWS::CloudFront::ResponseHeadersPolicy")
    sec = cfg["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert sec["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 31536000
    assert sec["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"


def test_edge_function_is_python_313_and_may_only_put_to_its_stream(synth):
    t = synth.template("Edge")
    tpl(synth, "Edge").has_resource_properties("AWS::Lambda::Function", {
        "Handler": "edge.handler.handler", "Runtime": "python3.13", "MemorySize": 128,
        "Timeout": 5, "FunctionName": "edgestats-edge"})
    role = only(t, "AWS::IAM::Role")
    principals = [st["Principal"]["Service"] for st in role["AssumeRolePolicyDocument"]["Statement"]]
    assert sorted(principals) == ["edgelambda.amazonaws.com", "lambda.amazonaws.com"]
    by_action = {}
    for st in statements(t):
        for a in st["Action"] if isinstance(st["Action"], list) else [st["Action"]]:
            by_action[a] = flat(st["Resource"])
    assert by_action["firehose:PutRecord"].endswith(':deliverystream/edgestats-events"]]}')
    assert by_action["ssm:GetParameter"].endswith(':parameter/edgestats/salt/*"]]}')


# ------------------------------------------------------------------ analytics


def _tables(synth) -> dict[str, dict]:
    t = synth.template("Analytics")
    return {r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
            for r in resources(t, "AWS::Glue::Table").values()}


def test_deployed_tables_are_edge_catalogs_table_inputs(synth):
    """The stack deploys exactly edge.catalog's TableInputs (the Trino stack and the tests
    create the same ones through the Glue API); only the bucket names are the stack's."""
    def joined(value) -> str:  # Fn::Join of strings and Refs, the Refs as <name>
        parts = value["Fn::Join"][1] if isinstance(value, dict) else [value]
        return "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)

    roots = {"LANDING": "s3://edgestats-landing-<AWS::AccountId>-eu-west-1",
             "WAREHOUSE": "s3://<Warehouse50B5FE91>"}
    expected = catalog.table_inputs(*roots)
    deployed = _tables(synth)
    assert sorted(deployed) == sorted(expected)
    for name, table_input in deployed.items():
        got = json.loads(json.dumps(table_input))
        location = joined(got["StorageDescriptor"].pop("Location"))
        want = json.loads(json.dumps(expected[name]))
        root, folder = want["StorageDescriptor"].pop("Location").rstrip("/").split("/")
        assert location == f"{roots[root]}/{folder}/", name
        assert got == want, name


def test_landing_table_keeps_each_line_whole_and_types_nothing(synth):
    raw = _tables(synth)["landing_events"]
    sd = raw["StorageDescriptor"]
    assert sd["Columns"] == [{"Name": "line", "Type": "string"}]
    assert raw["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert sd["SerdeInfo"] == {"SerializationLibrary":
                               "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                               "Parameters": {"field.delim": "\n", "serialization.format": "\n"}}
    assert sd["Location"] == {"Fn::Join": ["", ["s3://edgestats-landing-",
                                                 {"Ref": "AWS::AccountId"}, "-eu-west-1/events/"]]}


def test_warehouse_tables_are_parquet_partitioned_by_dt(synth):
    tables = _tables(synth)
    assert sorted(tables) == sorted([
        "landing_events", "events", "site_daily", "page_daily", "source_daily", "geo_daily",
        "tech_daily", "site_hourly", "event_daily", "bot_daily"])
    for name, t in tables.items():
        if name == "landing_events":
            continue
        assert t["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
        assert t["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith(
            "ParquetHiveSerDe")
        assert flat(t["StorageDescriptor"]["Location"]).endswith(f'/{name}/"]]}}')
    assert [c["Name"] for c in tables["site_daily"]["StorageDescriptor"]["Columns"]] == [
        "site", "pageviews", "visitors", "sessions", "bounces", "bounce_rate",
        "avg_visit_duration_s", "views_per_session"]


def test_events_table_carries_the_session_columns(synth):
    cols = _tables(synth)["events"]["StorageDescriptor"]["Columns"]
    assert cols[len(FIELDS):] == [
        {"Name": "event_ts", "Type": "timestamp"}, {"Name": "session_id", "Type": "string"},
        {"Name": "is_session_start", "Type": "boolean"}, {"Name": "is_entry", "Type": "boolean"},
        {"Name": "is_exit", "Type": "boolean"}]


def test_glue_tables_are_the_one_declaration(synth):
    tables = _tables(synth)
    for name, columns in WAREHOUSE_TABLES.items():
        got = tables[name]["StorageDescriptor"]["Columns"]
        assert got == [{"Name": n, "Type": t} for n, t in columns], name


def test_crawler_targets_the_events_folder_and_writes_only_landing_events(synth):
    crawler = only(synth.template("Analytics"), "AWS::Glue::Crawler")
    assert crawler["Name"] == "edgestats-raw-events"
    assert crawler["DatabaseName"] == "edgestats"
    # an S3 target the runtime can narrow to day folders; TablePrefix + the events/
    # folder name the deployed table, so crawls land in landing_events and nowhere else
    assert crawler["Targets"] == {"S3Targets": [{
        "Path": {"Fn::Join": ["", ["s3://edgestats-landing-", {"Ref": "AWS::AccountId"},
                                   "-eu-west-1/events/"]]},
        "Exclusions": ["**/_*", "**/.*"]}]}
    assert crawler["TablePrefix"] + "events" == "landing_events"
    assert crawler["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}
    # Glue refuses target changes on an incremental crawler
    assert crawler["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert json.loads(crawler["Configuration"]) == {
        "Version": 1.0,
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas",
                     "TableLevelConfiguration": 2},  # s3://bucket (1) / events (2)
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
                          "Tables": {"TableThreshold": 1}},
        "CreatePartitionIndex": False,
    }
    assert "CatalogTargets" not in crawler["Targets"]
    tpl(synth, "Analytics").has_resource_properties("AWS::Glue::Crawler", {
        "TablePrefix": "landing_",
        "Targets": {"S3Targets": [Match.object_like({"Exclusions": ["**/_*", "**/.*"]})]},
    })
    # the runtime may retarget it: UpdateCrawler, on this crawler's ARN
    tpl(synth, "Analytics").has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {
        "Statement": Match.array_with([Match.object_like({
            "Sid": "Crawler", "Effect": "Allow",
            "Action": Match.array_with(["glue:UpdateCrawler"]),
            "Resource": {"Fn::Join": ["", Match.array_with([
                Match.string_like_regexp(":crawler/edgestats-raw-events$")])]}})])}})


def test_crawler_table_level_counts_the_bucket_as_level_one():
    from infra.crawler import table_level

    assert [table_level(f) for f in ("events/", "a/b/", "")] == [2, 3, 1]


def test_crawler_role_may_read_events_and_write_only_landing_events_partitions(synth):
    t = synth.template("Analytics")
    policy = next(r for k, r in resources(t, "AWS::IAM::Policy").items()
                  if k.startswith("CrawlerRole"))
    sts = policy["Properties"]["PolicyDocument"]["Statement"]
    glue = next(s for s in sts if "glue:BatchCreatePartition" in s["Action"])
    assert "glue:CreateTable" not in glue["Action"] and "glue:DeleteTable" not in glue["Action"]
    assert flat(glue["Resource"]).count("/landing_events") == 1
    listing = next(s for s in sts if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["events/*"]}}


def test_athena_workgroup_enforces_location_encryption_and_cutoff(synth):
    wg = only(synth.template("Analytics"), "AWS::Athena::WorkGroup")
    cfg = wg["WorkGroupConfiguration"]
    assert wg["Name"] == "edgestats"
    assert cfg["EnforceWorkGroupConfiguration"] is True
    assert cfg["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert cfg["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert flat(cfg["ResultConfiguration"]["OutputLocation"]).endswith('/results/"]]}')


def test_dagster_role_is_scoped_to_these_resources(synth):
    t = synth.template("Analytics")
    role_policy = next(r for k, r in resources(t, "AWS::IAM::Policy").items()
                       if k.startswith("DagsterRole"))
    sts = {s["Sid"]: s for s in role_policy["Properties"]["PolicyDocument"]["Statement"]}
    assert sorted(sts) == ["Athena", "Catalog", "Crawler", "ListBuckets", "QuarantineLanding",
                           "ReadLanding", "RepairLanding", "WriteWarehouseAndResults"]
    assert sts["ReadLanding"]["Action"] == "s3:GetObject"
    # the landing zone is written only to repair a damaged object: events/ and quarantine/
    assert [flat(r).rsplit("/", 2)[1] for r in sts["ReadLanding"]["Resource"]] == [
        "events", "quarantine"]
    assert sorted(sts["RepairLanding"]["Action"]) == ["s3:DeleteObject", "s3:PutObject"]
    assert flat(sts["RepairLanding"]["Resource"]).endswith('/events/*"]]}')
    assert sts["QuarantineLanding"]["Action"] == "s3:PutObject"
    assert flat(sts["QuarantineLanding"]["Resource"]).endswith('/quarantine/*"]]}')
    # views and scratch tables of this database only, and the partitions they repoint
    assert {"glue:CreateTable", "glue:DeleteTable", "glue:BatchUpdatePartition"} <= set(
        sts["Catalog"]["Action"])
    assert flat(sts["Crawler"]["Resource"]).endswith(':crawler/edgestats-raw-events"]]}')
    # the runtime retargets the crawler at each run's day folders: this crawler only
    assert sorted(sts["Crawler"]["Action"]) == [
        "glue:GetCrawler", "glue:StartCrawler", "glue:StopCrawler", "glue:UpdateCrawler"]
    assert not isinstance(sts["Crawler"]["Resource"], list)
    assert flat(sts["Athena"]["Resource"]).endswith(':workgroup/edgestats"]]}')
    assert flat(sts["Catalog"]["Resource"]).count("edgestats") == 2  # database/ and table/


@pytest.mark.parametrize("stack", ["Landing", "Delivery", "Salts", "Edge", "Analytics"])
def test_no_statement_grants_every_resource_or_every_action(synth, stack):
    for st in statements(synth.template(stack)):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st.get("Resource", [])
        res = res if isinstance(res, list) else [res]
        if st["Effect"] == "Allow":
            assert "*" not in res, st
            assert not any(a.endswith(":*") or a == "*" for a in actions), st


def test_dagster_outputs_name_the_settings_variables(synth):
    outputs = synth.template("Analytics")["Outputs"]
    names = {o.get("Description") for o in outputs.values()}
    assert {"EDGESTATS_BACKEND", "EDGESTATS_AWS_REGION", "EDGESTATS_ATHENA_WORKGROUP",
            "EDGESTATS_GLUE_DATABASE", "EDGESTATS_ATHENA_OUTPUT", "EDGESTATS_LANDING_URI",
            "EDGESTATS_WAREHOUSE_URI", "EDGESTATS_GLUE_CRAWLER"} <= names
