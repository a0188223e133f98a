"""SQS event source mappings end to end: boto3's lambda and sqs clients and
the aws CLI against a real `cloudlet up`, with a real Python consumer
(tests/fixtures/functions/python/batch.py) that records every event it gets.

Wire shapes and messages: /work/shared/reference/queues.md §3 (Lambda's SQS
event, partial batch responses, the visibility-timeout rule) and Lambda's
API model. Time-based behaviour uses the smallest real visibility timeouts
and is polled with deadlines, never slept out.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import harness
from harness import ACCOUNT, REGION, client_error_parts, create_function, unique_name, wait_until
from test_sqs import sqs_client

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def sqs(daemon):
    return sqs_client(daemon.url)


@pytest.fixture(scope="module")
def raw_lambda(daemon):
    """A lambda client that sends what it is given (no client-side range
    checks), to see the server's own validation."""
    import boto3

    return boto3.client("lambda", endpoint_url=daemon.url, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(parameter_validation=False, retries={"max_attempts": 0}))


def queue(sqs, prefix: str = "esm", fifo: bool = False, **attributes: str) -> tuple[str, str]:
    name = unique_name(prefix) + (".fifo" if fifo else "")
    if fifo:
        attributes["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def consumer(lambda_client, python_zip: bytes, record_dir: Path | None = None, timeout: int = 3) -> str:
    env = {"Variables": {"RECORD_DIR": str(record_dir)}} if record_dir else {"Variables": {}}
    return create_function(lambda_client, zip_bytes=python_zip, runtime="python3.11", handler="batch.handler",
                           prefix="batch", Timeout=timeout, Environment=env)


def error_of(call, *args, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return client_error_parts(info.value)


def counts(sqs, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    attributes = attributes["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def drain(sqs, url: str) -> list[dict]:
    """Every message of a queue, received until it is empty (visibility 60 s,
    so nothing is received twice)."""
    messages: list[dict] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                  AttributeNames=["All"]).get("Messages", [])
        if not got:
            return messages
        messages.extend(got)


def recorded_events(record_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(record_dir.glob("*.json"))]


def metric(daemon, name: str, **labels: str) -> float:
    with urllib.request.urlopen(f"{daemon.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def send_all(sqs, url: str, bodies: list[dict], **extra) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps(body), **extra.get("entry", lambda b: {})(body)}
                   for i, body in enumerate(bodies[start:start + 10])]
        result = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not result.get("Failed"), result


# ---------------------------------------------------------------------------
# The API


def test_create_get_update_delete_and_list(daemon, lambda_client, sqs, python_zip):
    _, arn = queue(sqs)
    name = consumer(lambda_client, python_zip)
    created = lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=False)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    uuid = created["UUID"]
    assert UUID_RE.match(uuid)
    assert created["State"] == "Creating"
    assert created["BatchSize"] == 10
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["EventSourceArn"] == arn
    assert created["FunctionArn"] == harness.function_arn(name)
    assert created["FunctionResponseTypes"] == []
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["EventSourceMappingArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}"
    assert "ScalingConfig" not in created
    assert lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"

    updated = lambda_client.update_event_source_mapping(
        UUID=uuid, BatchSize=100, MaximumBatchingWindowInSeconds=2, ScalingConfig={"MaximumConcurrency": 3},
        FunctionResponseTypes=["ReportBatchItemFailures"])
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Updating"
    got = lambda_client.get_event_source_mapping(UUID=uuid)
    assert (got["BatchSize"], got["MaximumBatchingWindowInSeconds"], got["ScalingConfig"],
            got["FunctionResponseTypes"], got["State"]) == (
        100, 2, {"MaximumConcurrency": 3}, ["ReportBatchItemFailures"], "Disabled")
    assert got["LastModified"] >= created["LastModified"]
    assert lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    assert lambda_client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    # An empty ScalingConfig removes the maximum.
    assert "ScalingConfig" not in lambda_client.update_event_source_mapping(UUID=uuid, ScalingConfig={})

    listed = lambda_client.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert [m["UUID"] for m in lambda_client.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] \
        == [uuid]
    assert lambda_client.list_event_source_mappings(EventSourceArn=arn + "-other")["EventSourceMappings"] == []

    deleted = lambda_client.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleted["State"] == "Deleting"
    status, code, message = error_of(lambda_client.get_event_source_mapping, UUID=uuid)
    assert (status, code, message) == (404, "ResourceNotFoundException", "The resource you requested does not exist.")
    assert error_of(lambda_client.delete_event_source_mapping, UUID=uuid)[:2] == (404, "ResourceNotFoundException")
    assert error_of(lambda_client.update_event_source_mapping, UUID=uuid, BatchSize=5)[:2] == \
        (404, "ResourceNotFoundException")


def test_list_pages_with_marker(daemon, lambda_client, sqs, python_zip):
    name = consumer(lambda_client, python_zip)
    uuids = set()
    for _ in range(3):
        _, arn = queue(sqs, "page")
        uuids.add(lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                                            Enabled=False)["UUID"])
    first = lambda_client.list_event_source_mappings(FunctionName=name, MaxItems=2)
    assert len(first["EventSourceMappings"]) == 2 and first["NextMarker"]
    rest = lambda_client.list_event_source_mappings(FunctionName=name, MaxItems=2, Marker=first["NextMarker"])
    assert "NextMarker" not in rest
    assert {m["UUID"] for m in first["EventSourceMappings"] + rest["EventSourceMappings"]} == uuids
    # The paginator boto3 ships walks the same pages.
    paginator = lambda_client.get_paginator("list_event_source_mappings")
    walked = [m["UUID"] for page in paginator.paginate(FunctionName=name, PaginationConfig={"PageSize": 1})
              for m in page["EventSourceMappings"]]
    assert sorted(walked) == sorted(uuids)


def test_validation_errors_are_lambdas(daemon, lambda_client, raw_lambda, sqs, python_zip):
    _, arn = queue(sqs, VisibilityTimeout="30")
    _, fifo_arn = queue(sqs, fifo=True)
    name = consumer(lambda_client, python_zip)
    slow = consumer(lambda_client, python_zip, timeout=60)

    def create(**kwargs) -> tuple[int, str, str]:
        return error_of(raw_lambda.create_event_source_mapping, **kwargs)

    assert create(EventSourceArn=arn, FunctionName=name, BatchSize=11) == (
        400, "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    assert create(EventSourceArn=arn, FunctionName=slow) == (
        400, "InvalidParameterValueException",
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds")
    assert create(EventSourceArn=fifo_arn, FunctionName=name, BatchSize=11, MaximumBatchingWindowInSeconds=1)[:2] \
        == (400, "InvalidParameterValueException")
    assert create(EventSourceArn=arn, FunctionName=name, BatchSize=10_001) == (
        400, "ValidationException",
        "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000")
    assert create(EventSourceArn=arn, FunctionName=name, ScalingConfig={"MaximumConcurrency": 1}) == (
        400, "ValidationException",
        "1 validation error detected: Value '1' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: "
        "Member must have value greater than or equal to 2")
    assert create(EventSourceArn=arn, FunctionName=name, MaximumBatchingWindowInSeconds=301)[:2] == \
        (400, "ValidationException")
    assert create(EventSourceArn=arn, FunctionName=name, FunctionResponseTypes=["Everything"])[:2] == \
        (400, "ValidationException")
    assert create(EventSourceArn=arn, FunctionName=unique_name("missing")) == (
        400, "InvalidParameterValueException", "Function does not exist")
    status, code, message = create(EventSourceArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique_name('nope')}",
                                   FunctionName=name)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "AWS.SimpleQueueService.NonExistentQueue" in message
    assert create(EventSourceArn=arn, FunctionName=name, StartingPosition="LATEST") == (
        400, "InvalidParameterValueException",
        "Unsupported StartingPosition parameter for given event source mapping type.")

    uuid = lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=False)["UUID"]
    assert create(EventSourceArn=arn, FunctionName=name) == (
        409, "ResourceConflictException",
        f'An event source mapping with SQS arn (" {arn} ") and function (" {name} ") already exists. '
        f"Please update or delete the existing mapping with UUID {uuid}")
    # Pointing another mapping of the queue at the same function conflicts too.
    third = consumer(lambda_client, python_zip)
    other = lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=third, Enabled=False)["UUID"]
    assert error_of(raw_lambda.update_event_source_mapping, UUID=other, FunctionName=name)[:2] == \
        (409, "ResourceConflictException")
    # Raising the function's timeout above the visibility timeout is checked
    # again at update.
    assert error_of(raw_lambda.update_event_source_mapping, UUID=uuid, FunctionName=slow)[2] == (
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds")
    # Malformed bodies.
    status, code, _ = error_of(raw_lambda.update_event_source_mapping, UUID=uuid, BatchSize="ten")
    assert (status, code) == (400, "InvalidRequestContentException")


def test_the_aws_cli_lists_mappings(daemon, lambda_client, sqs, python_zip):
    _, arn = queue(sqs)
    name = consumer(lambda_client, python_zip)
    uuid = lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=False)["UUID"]
    listed = harness.aws(daemon.url, "lambda", "list-event-source-mappings", "--function-name", name)
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [uuid]
    got = harness.aws(daemon.url, "lambda", "get-event-source-mapping", "--uuid", uuid)
    assert got["EventSourceArn"] == arn


# ---------------------------------------------------------------------------
# Delivery


def test_events_have_lambdas_sqs_shape(daemon, lambda_client, sqs, python_zip, tmp_path):
    url, arn = queue(sqs)
    name = consumer(lambda_client, python_zip, tmp_path)
    sent = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}),
                            MessageAttributes={"req-id": {"DataType": "String", "StringValue": "abc"}})
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    wait_until(lambda: counts(sqs, url) == (0, 0) and recorded_events(tmp_path), timeout=30, what="delivery")
    [event] = recorded_events(tmp_path)
    [record] = event["Records"]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == json.dumps({"n": 1})
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["messageAttributes"] == {
        "req-id": {"stringValue": "abc", "stringListValues": [], "binaryListValues": [], "dataType": "String"}}
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == REGION
    assert record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert sorted(record) == sorted([
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion"])


def test_pipeline_of_1000_messages_with_partial_batch_failures(daemon, lambda_client, sqs, python_zip, tmp_path):
    """1,000 messages through a mapping with ReportBatchItemFailures into a
    function that fails every tenth record: the 900 successes are deleted,
    the 100 failures are delivered maxReceiveCount (2) times and then sit in
    the queue's DLQ; sent = deleted + in the DLQ, nothing lost or
    duplicated."""
    dlq_url, dlq_arn = queue(sqs, "pipe-dlq")
    url, arn = queue(sqs, "pipe", VisibilityTimeout="4",
                     RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    name = consumer(lambda_client, python_zip, tmp_path, timeout=4)
    failing = {n for n in range(1000) if n % 10 == 3}
    send_all(sqs, url, [{"n": n, "fail": n in failing} for n in range(1000)])
    uuid = lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]

    def settled() -> bool:
        return counts(sqs, url) == (0, 0) and counts(sqs, dlq_url)[0] == len(failing)

    wait_until(settled, timeout=120, interval=0.25, what="the queue drained into deletes and the DLQ")
    lambda_client.delete_event_source_mapping(UUID=uuid)

    in_dlq = [json.loads(m["Body"])["n"] for m in drain(sqs, dlq_url)]
    assert sorted(in_dlq) == sorted(failing), "each failure is in the DLQ exactly once"
    delivered: dict[int, int] = {}
    for event in recorded_events(tmp_path):
        assert 1 <= len(event["Records"]) <= 10
        for record in event["Records"]:
            n = json.loads(record["body"])["n"]
            delivered[n] = delivered.get(n, 0) + 1
    assert set(delivered) == set(range(1000)), "every message reached the function"
    # SQS delivers at least once: a success whose batch outlived the
    # visibility timeout (a slow cold start on a busy machine) may be
    # delivered again, but it is deleted once and never reaches the DLQ.
    duplicates = sum(delivered[n] - 1 for n in range(1000) if n not in failing)
    assert duplicates <= 50, f"{duplicates} repeated deliveries of successes"
    assert all(delivered[n] == 2 for n in failing), "failures are delivered maxReceiveCount times"
    assert metric(daemon, "cloudlet_sqs_messages_deleted_total", queue=url.rsplit("/", 1)[1]) == 900
    assert 1000 == 900 + len(in_dlq)


def test_a_failing_function_returns_the_whole_batch(daemon, lambda_client, sqs, python_zip, tmp_path):
    """Without ReportBatchItemFailures, an invocation error leaves every
    message of the batch in the queue; maxReceiveCount moves them to the DLQ."""
    dlq_url, dlq_arn = queue(sqs, "raise-dlq")
    url, arn = queue(sqs, "raise", VisibilityTimeout="3",
                     RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    name = consumer(lambda_client, python_zip, tmp_path, timeout=1)
    send_all(sqs, url, [{"n": 0, "raise": True}] + [{"n": n} for n in range(1, 5)])
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10,
                                              MaximumBatchingWindowInSeconds=1)
    wait_until(lambda: counts(sqs, dlq_url)[0] + counts(sqs, dlq_url)[1] >= 1 and counts(sqs, url) == (0, 0),
               timeout=60, interval=0.25, what="the failed batch in the DLQ")
    in_dlq = sorted(json.loads(m["Body"])["n"] for m in drain(sqs, dlq_url))
    batches = [sorted(json.loads(r["body"])["n"] for r in e["Records"]) for e in recorded_events(tmp_path)]
    # Messages that came in the failing message's batch failed with it.
    failed_with_zero = next(b for b in batches if 0 in b)
    assert set(failed_with_zero) <= set(in_dlq)
    assert 0 in in_dlq


def test_batches_stay_under_the_payload_limit(daemon, lambda_client, sqs, python_zip, tmp_path):
    """Ten messages of 900 KB would make a 9 MB event: the mapping invokes
    with what fits in 6 MB and returns the rest to the queue at once."""
    url, arn = queue(sqs, "big")
    name = consumer(lambda_client, python_zip, tmp_path)
    for n in range(10):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n, "pad": "x" * 900_000}))
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)
    wait_until(lambda: counts(sqs, url) == (0, 0), timeout=60, interval=0.25, what="the large messages processed")
    events = recorded_events(tmp_path)
    assert sorted(json.loads(r["body"])["n"] for e in events for r in e["Records"]) == list(range(10))
    assert all(len(json.dumps(e)) <= 6 * 1024 * 1024 for e in events)
    assert max(len(e["Records"]) for e in events) <= 6


def max_overlap(events: list[dict]) -> int:
    """The most invocations that were running at one moment."""
    edges = sorted([(e["_start"], 1) for e in events] + [(e["_end"], -1) for e in events])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize("maximum", [None, 2])
def test_pollers_start_at_five_batches_and_honour_maximum_concurrency(
        daemon, lambda_client, sqs, python_zip, tmp_path, maximum):
    """Slow batches of one message: the pollers run five batches at once
    from the start (Lambda's initial concurrency), and never more than
    ScalingConfig.MaximumConcurrency."""
    url, arn = queue(sqs, "scale")
    name = consumer(lambda_client, python_zip, tmp_path)
    send_all(sqs, url, [{"n": n, "sleep": 0.4} for n in range(20)])
    scaling = {"ScalingConfig": {"MaximumConcurrency": maximum}} if maximum else {}
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1, **scaling)
    wait_until(lambda: counts(sqs, url) == (0, 0) and len(recorded_events(tmp_path)) == 20,
               timeout=60, interval=0.1, what="the queue drained")
    events = recorded_events(tmp_path)
    peak = max_overlap(events)
    if maximum:
        assert peak == maximum
    else:
        # Five at once from the start, then at most 300 more a minute (5 a
        # second) while every slot keeps finding messages.
        span = max(e["_end"] for e in events) - min(e["_start"] for e in events)
        assert 5 <= peak <= 5 + int(span * 5) + 1, (peak, span)


def test_fifo_order_is_kept_per_group(daemon, lambda_client, sqs, python_zip, tmp_path):
    url, arn = queue(sqs, "order", fifo=True, ContentBasedDeduplication="true")
    name = consumer(lambda_client, python_zip, tmp_path)
    for group in ("a", "b", "c"):
        for start in range(0, 30, 10):
            entries = [{"Id": str(n), "MessageBody": json.dumps({"g": group, "n": n}), "MessageGroupId": group}
                       for n in range(start, start + 10)]
            assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)
    wait_until(lambda: counts(sqs, url) == (0, 0), timeout=60, interval=0.25, what="the FIFO queue drained")
    seen: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    events = recorded_events(tmp_path)
    # Files are named at random; order the batches by their first record's
    # sequence number, which is what the queue delivered first.
    events.sort(key=lambda e: int(e["Records"][0]["attributes"]["SequenceNumber"]))
    for event in events:
        for record in event["Records"]:
            body = json.loads(record["body"])
            assert record["attributes"]["MessageGroupId"] == body["g"]
            assert "MessageDeduplicationId" in record["attributes"]
            seen[body["g"]].append(body["n"])
    assert seen == {g: list(range(30)) for g in seen}


def test_throttled_batches_are_never_lost(daemon, lambda_client, sqs, python_zip, tmp_path):
    """Reserved concurrency 0 throttles every invoke: the messages stay in the
    queue; once the function may run again they are all processed once."""
    url, arn = queue(sqs, "throttle", VisibilityTimeout="2")
    name = consumer(lambda_client, python_zip, tmp_path, timeout=2)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    send_all(sqs, url, [{"n": n} for n in range(5)])
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)
    wait_until(lambda: metric(daemon, "cloudlet_lambda_event_source_mapping_batches_total",
                              function=name, outcome="throttled") >= 1,
               timeout=30, interval=0.25, what="a throttled batch")
    visible, in_flight = counts(sqs, url)
    assert visible + in_flight == 5
    assert recorded_events(tmp_path) == []
    lambda_client.delete_function_concurrency(FunctionName=name)
    wait_until(lambda: counts(sqs, url) == (0, 0), timeout=60, interval=0.25, what="the queue drained")
    numbers = sorted(json.loads(r["body"])["n"] for e in recorded_events(tmp_path) for r in e["Records"])
    assert numbers == list(range(5))


def test_disabling_stops_polling_and_mappings_survive_a_restart(new_daemon, python_zip, tmp_path):
    daemon = new_daemon()
    lambda_client = harness.lambda_client(daemon.url)
    sqs = sqs_client(daemon.url)
    url, arn = queue(sqs, "restart")
    name = consumer(lambda_client, python_zip, tmp_path)
    uuid = lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=5)["UUID"]
    lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
    # Disabled: the message stays visible (nothing receives it).
    assert counts(sqs, url) == (1, 0)
    daemon.restart()
    lambda_client = harness.lambda_client(daemon.url)
    sqs = sqs_client(daemon.url)
    got = lambda_client.get_event_source_mapping(UUID=uuid)
    assert (got["State"], got["BatchSize"], got["EventSourceArn"]) == ("Disabled", 5, arn)
    assert counts(sqs, url) == (1, 0)
    lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_until(lambda: counts(sqs, url) == (0, 0), timeout=30, interval=0.1, what="delivery after enabling")
    assert [json.loads(r["body"])["n"] for e in recorded_events(tmp_path) for r in e["Records"]] == [1]


def test_a_killed_daemon_resumes_its_mappings_and_loses_nothing(new_daemon, python_zip, tmp_path):
    """kill -9 in the middle of a drain: after the restart the mapping polls
    again, batches that were in flight come back after their visibility
    timeout, and every message is processed and deleted."""
    daemon = new_daemon()
    lambda_client = harness.lambda_client(daemon.url)
    sqs = sqs_client(daemon.url)
    url, arn = queue(sqs, "crash", VisibilityTimeout="2")
    name = consumer(lambda_client, python_zip, tmp_path, timeout=2)
    send_all(sqs, url, [{"n": n, "sleep": 0.02} for n in range(200)])
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)
    wait_until(lambda: len(recorded_events(tmp_path)) >= 3, timeout=30, interval=0.02, what="some batches done")
    daemon.kill9()
    daemon.start()
    sqs = sqs_client(daemon.url)
    wait_until(lambda: counts(sqs, url) == (0, 0), timeout=90, interval=0.25, what="the drain finished after restart")
    delivered = {json.loads(r["body"])["n"] for e in recorded_events(tmp_path) for r in e["Records"]}
    assert delivered == set(range(200))

