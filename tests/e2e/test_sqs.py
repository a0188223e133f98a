"""SQS end to end: a real `cloudlet up`, boto3 (JSON 1.0 protocol), raw
query-protocol requests and the aws CLI as the judges.

Wire shapes, error codes and messages come from
/work/shared/reference/queues.md (§1.2–1.9). Every test makes its own
uniquely named queues on the session daemon; the kill -9 test gets a daemon
of its own. Time-based behaviour is driven with the smallest real timeouts
SQS allows (visibility 0–2 s) and polled with deadlines, never slept out.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

import harness
from harness import ACCOUNT, REGION, client_error_parts, unique_name, wait_until

NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


def sqs_client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}, read_timeout=60, max_pool_connections=32),
    )


@pytest.fixture(scope="module")
def sqs(daemon):
    return sqs_client(daemon.url)


def new_queue(sqs, prefix: str = "q", fifo: bool = False, **attributes: str) -> str:
    name = unique_name(prefix) + (".fifo" if fifo else "")
    if fifo:
        attributes["FifoQueue"] = "true"
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def error_of(call, *args, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return client_error_parts(info.value)


def attributes_md5(attributes: dict) -> str:
    """MD5OfMessageAttributes as the Java SDK v2 and moto compute it (§1.6)."""
    stream = b""
    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]
        stream += struct.pack(">I", len(name.encode())) + name.encode()
        stream += struct.pack(">I", len(data_type.encode())) + data_type.encode()
        if "StringValue" in value:
            raw = value["StringValue"].encode()
            stream += b"\x01" + struct.pack(">I", len(raw)) + raw
        else:
            raw = value["BinaryValue"]
            stream += b"\x02" + struct.pack(">I", len(raw)) + raw
    return hashlib.md5(stream).hexdigest()


def raw_json(daemon, operation: str, body: bytes) -> tuple[int, dict, dict]:
    request = urllib.request.Request(f"{daemon.url}/", data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{operation}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


def raw_query(daemon, params: dict, path: str = "/") -> tuple[int, dict, ET.Element]:
    body = urllib.parse.urlencode({"Version": "2012-11-05", **params}).encode()
    request = urllib.request.Request(f"{daemon.url}{path}", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), ET.fromstring(response.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), ET.fromstring(e.read())


# ---------------------------------------------------------------------------
# Queues


def test_create_get_list_delete(sqs, daemon):
    name = unique_name("life")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url == f"{daemon.url}/{ACCOUNT}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    sqs.delete_queue(QueueUrl=url)
    status, code, message = error_of(sqs.get_queue_url, QueueName=name)
    assert (status, code, message) == (400, "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    status, code, message = error_of(sqs.create_queue, QueueName=name)
    assert (status, code) == (400, "AWS.SimpleQueueService.QueueDeletedRecently")
    assert message == "You must wait 60 seconds after deleting a queue before you can create another with the same name."


def test_create_queue_is_idempotent_only_with_the_same_attributes(sqs):
    name = unique_name("idem")
    first = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == first
    with pytest.raises(sqs.exceptions.QueueNameExists) as info:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "41"})
    assert client_error_parts(info.value) == (
        400, "QueueAlreadyExists",
        "A queue already exists with the same name and a different value for attribute VisibilityTimeout")


def test_list_queues_paginates(sqs):
    prefix = unique_name("page")
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5))
    first = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert first["QueueUrls"] == urls[:2] and first["NextToken"]
    seen = list(first["QueueUrls"])
    token = first["NextToken"]
    while token:
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=token)
        seen += page["QueueUrls"]
        token = page.get("NextToken")
    assert seen == urls
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=unique_name("none"))


def test_queue_attributes(sqs):
    url = new_queue(sqs, VisibilityTimeout="45", DelaySeconds="1")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["DelaySeconds"] == "1"
    assert attributes["MaximumMessageSize"] == "1048576"
    assert attributes["MessageRetentionPeriod"] == "345600"
    assert attributes["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[1]}"
    assert attributes["ApproximateNumberOfMessages"] == "0"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "10", "ReceiveMessageWaitTimeSeconds": "0"})
    only = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert only == {"VisibilityTimeout": "10"}
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"VisibilityTimeout": "43201"}) == (
        400, "InvalidAttributeValue", "Invalid value for the parameter VisibilityTimeout.")
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"Bogus": "1"}) == (
        400, "InvalidAttributeName", "Unknown Attribute Bogus.")
    assert error_of(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["Bogus"])[1] == "InvalidAttributeName"


def test_computed_counts(sqs):
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=60)
    sqs.send_message(QueueUrl=url, MessageBody="inflight")
    got = sqs.receive_message(QueueUrl=url)["Messages"]
    assert len(got) == 1
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"],
            attributes["ApproximateNumberOfMessagesDelayed"]) == ("1", "1", "1")


def test_tags(sqs):
    name = unique_name("tags")
    url = sqs.create_queue(QueueName=name, tags={"team": "a"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}


def test_purge(sqs):
    url = new_queue(sqs)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(5)])
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    status, code, _ = error_of(sqs.purge_queue, QueueUrl=url)
    assert (status, code) == (403, "AWS.SimpleQueueService.PurgeQueueInProgress")


# ---------------------------------------------------------------------------
# Messages


def test_send_receive_delete_with_md5s_and_attributes(sqs):
    url = new_queue(sqs)
    attributes = {
        "s": {"DataType": "String", "StringValue": "héllo"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "custom": {"DataType": "String.custom", "StringValue": "c"},
    }
    body = "body ✓ with unicode"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
    message = got["Messages"][0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == body
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["MessageAttributes"]["b"]["BinaryValue"] == b"\x00\x01\xff"
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(message["Attributes"]["SentTimestamp"]) <= int(message["Attributes"]["ApproximateFirstReceiveTimestamp"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.change_message_visibility  # noqa: B018 (exists)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessagesNotVisible"] == "0"


def test_attribute_selection(sqs):
    url = new_queue(sqs)
    attributes = {"a.x": {"DataType": "String", "StringValue": "1"}, "b": {"DataType": "String", "StringValue": "2"}}
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attributes)
    message = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["a.*"], AttributeNames=["SentTimestamp"],
                                  VisibilityTimeout=0)["Messages"][0]
    assert list(message["MessageAttributes"]) == ["a.x"]
    assert list(message["Attributes"]) == ["SentTimestamp"]
    assert message["MD5OfMessageAttributes"] == attributes_md5({"a.x": attributes["a.x"]})
    bare = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert "MessageAttributes" not in bare and "Attributes" not in bare


def test_message_validation_errors(sqs):
    url = new_queue(sqs, MaximumMessageSize="1024")
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x" * 1025) == (
        400, "InvalidParameterValue",
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.")
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="bad \x01 char")[1] == "InvalidMessageContents"
    reserved = {"AWS.x": {"DataType": "String", "StringValue": "v"}}
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m", MessageAttributes=reserved)[1] == \
        "InvalidParameterValue"
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="m", DelaySeconds=901)[1] == "InvalidParameterValue"


def test_one_mib_messages(sqs):
    url = new_queue(sqs)
    body = "y" * 1_048_576
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["MD5OfBody"] == sent["MD5OfMessageBody"]
    status, code, message = error_of(sqs.send_message, QueueUrl=url, MessageBody=body + "y")
    assert (status, code) == (400, "InvalidParameterValue")
    assert "1048576" in message


def test_receive_parameter_errors(sqs):
    url = new_queue(sqs)
    assert error_of(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11) == (
        400, "InvalidParameterValue",
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")
    assert error_of(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=21)[1] == "InvalidParameterValue"
    assert error_of(sqs.receive_message, QueueUrl=url, VisibilityTimeout=43201)[1] == "InvalidParameterValue"


def test_batches(sqs):
    url = new_queue(sqs)
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "one"},
        {"Id": "bad", "MessageBody": "\x02"},
        {"Id": "delayed", "MessageBody": "two", "DelaySeconds": 0},
    ])
    assert sorted(e["Id"] for e in result["Successful"]) == ["delayed", "ok"]
    assert result["Failed"][0]["Id"] == "bad" and result["Failed"][0]["Code"] == "InvalidMessageContents"
    assert result["Failed"][0]["SenderFault"] is True
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 2
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
    ])
    assert [e["Id"] for e in changed["Successful"]] == ["a"]
    assert changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": got[1]["ReceiptHandle"]}, {"Id": "y", "ReceiptHandle": "garbage"}])
    assert [e["Id"] for e in deleted["Successful"]] == ["x"]
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"

    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=[])[1] == "AWS.SimpleQueueService.EmptyBatchRequest"
    many = [{"Id": str(i), "MessageBody": "m"} for i in range(11)]
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=many) == (
        400, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "Maximum number of entries per request are 10. You have sent 11.")
    dup = [{"Id": "a", "MessageBody": "m"}, {"Id": "a", "MessageBody": "m"}]
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=dup)
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a b", "MessageBody": "m"}])[1] == \
        "AWS.SimpleQueueService.InvalidBatchEntryId"
    big = [{"Id": str(i), "MessageBody": "z" * 200_000} for i in range(6)]
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=big)[1] == "AWS.SimpleQueueService.BatchRequestTooLong"


def test_visibility_and_receipt_handles(sqs):
    url = new_queue(sqs, VisibilityTimeout="30")
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    # A stale handle "succeeds but does not delete" (§1.8).
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessagesNotVisible"] == "1"
    status, code, message = error_of(sqs.change_message_visibility, QueueUrl=url,
                                     ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=43201)
    assert (status, code) == (400, "InvalidParameterValue")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    with pytest.raises(sqs.exceptions.MessageNotInflight):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=5)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    third = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    sqs.change_message_visibility  # noqa: B018
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_visibility_timeout_expires(sqs):
    url = new_queue(sqs, VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="m")
    received_at = time.monotonic()
    sqs.receive_message(QueueUrl=url)
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"][0]
    waited = time.monotonic() - received_at
    assert 0.9 <= waited < 3, waited


def test_long_poll_wakes_on_send(sqs):
    url = new_queue(sqs)
    result: dict = {}

    def poll() -> None:
        started = time.monotonic()
        result["response"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        result["elapsed"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)  # let the poll park; the point is that it returns early
    sqs.send_message(QueueUrl=url, MessageBody="wake")
    poller.join(timeout=25)
    assert result["response"]["Messages"][0]["Body"] == "wake"
    assert result["elapsed"] < 3, result["elapsed"]


def test_long_poll_returns_empty_after_wait(sqs):
    url = new_queue(sqs, ReceiveMessageWaitTimeSeconds="1")
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert 0.9 <= time.monotonic() - started < 3


def test_redrive_to_dead_letter_queue(sqs):
    dlq = new_queue(sqs, "dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    src = new_queue(sqs, "src", RedrivePolicy=policy)
    got = json.loads(sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    assert got == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        assert len(sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    moved = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == sent["MessageId"]
    assert moved["Attributes"]["DeadLetterQueueSourceArn"].endswith(src.rsplit("/", 1)[1])
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    missing = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:nope", "maxReceiveCount": 1})
    assert error_of(sqs.create_queue, QueueName=unique_name("bad"), Attributes={"RedrivePolicy": missing})[1] == \
        "InvalidParameterValue"


# ---------------------------------------------------------------------------
# FIFO


def test_fifo_order_groups_and_sequence_numbers(sqs):
    url = new_queue(sqs, "fifo", fifo=True)
    numbers = []
    for i in range(3):
        sent = sqs.send_message(QueueUrl=url, MessageBody=f"a{i}", MessageGroupId="a", MessageDeduplicationId=f"a{i}")
        numbers.append(int(sent["SequenceNumber"]))
    sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="b", MessageDeduplicationId="b0")
    assert numbers == sorted(numbers)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a0"]
    assert first[0]["Attributes"]["MessageGroupId"] == "a"
    assert first[0]["Attributes"]["SequenceNumber"] == str(numbers[0]).zfill(20)
    # Group a is blocked while a0 is in flight; b is free.
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["b0"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["a1", "a2"]


def test_fifo_deduplication(sqs):
    url = new_queue(sqs, "dedup", fifo=True)
    first = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    again = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    assert again["MessageId"] == first["MessageId"]
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 1
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="g")[1] == "InvalidParameterValue"
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x", MessageDeduplicationId="e")[1] == "MissingParameter"
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="g",
                    MessageDeduplicationId="f", DelaySeconds=1)[1] == "InvalidParameterValue"

    cbd = new_queue(sqs, "cbd", fifo=True, ContentBasedDeduplication="true")
    a = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
    c = sqs.send_message(QueueUrl=cbd, MessageBody="other", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"] != c["MessageId"]


def test_fifo_receive_request_attempt_id(sqs):
    url = new_queue(sqs, "attempt", fifo=True, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g1")
    sqs.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g2")
    first = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-1")["Messages"]
    retry = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-1")["Messages"]
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in first] == [(m["MessageId"], m["ReceiptHandle"]) for m in retry]
    other = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-2")["Messages"]
    assert other[0]["Body"] != first[0]["Body"]


def test_fifo_name_rules(sqs):
    assert error_of(sqs.create_queue, QueueName=unique_name("nofifo"), Attributes={"FifoQueue": "true"})[1] == \
        "InvalidParameterValue"
    assert error_of(sqs.create_queue, QueueName="bad name")[1] == "InvalidParameterValue"


# ---------------------------------------------------------------------------
# Protocols


def test_json_protocol_error_shape_and_bad_input(daemon, sqs):
    status, headers, body = raw_json(daemon, "GetQueueUrl", b'{"QueueName":"does-not-exist"}')
    assert status == 400
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert body == {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."}
    status, _, body = raw_json(daemon, "SendMessage", b"{not json")
    assert status == 400 and body["__type"].endswith("SerializationException")
    status, _, body = raw_json(daemon, "NoSuchOperation", b"{}")
    assert status == 400 and body["__type"].endswith("InvalidAction")
    status, _, body = raw_json(daemon, "CreateQueue", b"{}")
    assert status == 400 and body["message"] == "The request must contain the parameter QueueName."
    # The daemon keeps serving.
    assert sqs.list_queues(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_query_protocol(daemon):
    name = unique_name("query")
    status, _, root = raw_query(daemon, {"Action": "CreateQueue", "QueueName": name,
                                         "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40"})
    assert status == 200, ET.tostring(root)
    url = root.find("sqs:CreateQueueResult/sqs:QueueUrl", NS).text
    assert url.endswith(f"/{ACCOUNT}/{name}")
    status, _, root = raw_query(daemon, {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "hi & <there>",
                                         "MessageAttribute.1.Name": "k",
                                         "MessageAttribute.1.Value.DataType": "String",
                                         "MessageAttribute.1.Value.StringValue": "v"})
    assert status == 200
    assert root.find("sqs:SendMessageResult/sqs:MD5OfMessageBody", NS).text == hashlib.md5(b"hi & <there>").hexdigest()
    # POST to the queue URL's path, as the Java SDK v1 does.
    status, _, root = raw_query(daemon, {"Action": "ReceiveMessage", "AttributeName.1": "All",
                                         "MessageAttributeName.1": "All"}, path=f"/{ACCOUNT}/{name}")
    message = root.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert message.find("sqs:Body", NS).text == "hi & <there>"
    names = [a.find("sqs:Name", NS).text for a in message.findall("sqs:Attribute", NS)]
    assert "SentTimestamp" in names
    assert message.find("sqs:MessageAttribute/sqs:Value/sqs:StringValue", NS).text == "v"
    status, _, root = raw_query(daemon, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"})
    values = {a.find("sqs:Name", NS).text: a.find("sqs:Value", NS).text
              for a in root.findall("sqs:GetQueueAttributesResult/sqs:Attribute", NS)}
    assert values["VisibilityTimeout"] == "40"
    status, headers, root = raw_query(daemon, {"Action": "GetQueueUrl", "QueueName": unique_name("missing")})
    assert status == 400
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert root.tag == "{http://queue.amazonaws.com/doc/2012-11-05/}ErrorResponse"
    assert root.find("sqs:Error/sqs:Code", NS).text == "AWS.SimpleQueueService.NonExistentQueue"
    assert root.find("sqs:Error/sqs:Type", NS).text == "Sender"


def test_aws_cli(daemon, aws):
    name = unique_name("cli")
    url = aws(daemon, "sqs", "create-queue", "--queue-name", name)["QueueUrl"]
    sent = aws(daemon, "sqs", "send-message", "--queue-url", url, "--message-body", "from the cli")
    got = aws(daemon, "sqs", "receive-message", "--queue-url", url)
    assert got["Messages"][0]["MessageId"] == sent["MessageId"]
    assert url in aws(daemon, "sqs", "list-queues", "--queue-name-prefix", name)["QueueUrls"]


# ---------------------------------------------------------------------------
# Durability


def test_acknowledged_messages_survive_kill_9(new_daemon):
    daemon = new_daemon()
    client = sqs_client(daemon.url)
    url = client.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]

    # Before the crash: some messages deleted, some in flight for 60 s.
    client.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"pre-{i}"} for i in range(10)])
    received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]
    deleted = {m["Body"] for m in received[:5]}
    client.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received[:5])])
    in_flight = received[5:]
    acknowledged = {m["Body"] for m in in_flight} | {f"pre-{i}" for i in range(10)} - deleted

    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int) -> None:
        local = sqs_client(daemon.url)
        n = 0
        while not stop.is_set():
            bodies = [f"w{worker}-{n}-{j}" for j in range(10)]
            n += 1
            try:
                result = local.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(j), "MessageBody": body} for j, body in enumerate(bodies)])
            except Exception:  # noqa: BLE001 - the daemon died under us
                return
            with lock:
                acknowledged.update(bodies[int(e["Id"])] for e in result["Successful"])

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acknowledged) > 2000, timeout=30, what="2,000 acknowledged sends")
    daemon.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    with lock:
        acknowledged_at_kill = set(acknowledged)

    daemon.start()
    client = sqs_client(daemon.url)
    # In-flight state survived: the received messages are still invisible,
    # and their receipt handles still work.
    counts = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == str(len(in_flight))
    for m in in_flight:
        client.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)

    seen: list[str] = []
    while True:
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        if not got:
            break
        seen.extend(m["Body"] for m in got)
        client.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    assert len(seen) == len(set(seen)), "a message was delivered twice"
    missing = acknowledged_at_kill - set(seen)
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"
    assert not (deleted & set(seen)), "deleted messages came back"


# ---------------------------------------------------------------------------
# cloudlet sqs ...


def test_cloudlet_sqs_cli(daemon, cloudlet_bin, sqs):
    import subprocess

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(cloudlet_bin), "sqs", "--endpoint", daemon.url, *args],
                                capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    name = unique_name("cli")
    url = run("create", name, "--attribute", "VisibilityTimeout=60").stdout.strip()
    assert url == f"{daemon.url}/{ACCOUNT}/{name}"
    message_id = run("send", name, "hello from the cli", "--attribute", "k=v").stdout.strip()
    listing = run("list", "--prefix", name).stdout.splitlines()
    assert listing[0].split() == ["NAME", "TYPE", "VISIBLE", "IN", "FLIGHT", "DELAYED", "VISIBILITY"]
    assert listing[1].split() == [name, "standard", "1", "0", "0", "60", "s"]
    received = json.loads(run("receive", url, "--json", "--delete").stdout)
    assert received["Messages"][0]["MessageId"] == message_id
    assert received["Messages"][0]["MessageAttributes"]["k"]["StringValue"] == "v"
    attrs = run("attrs", name, "--set", "DelaySeconds=3").stdout
    assert re_line(attrs, "DelaySeconds", "3")
    assert re_line(attrs, "ApproximateNumberOfMessages", "0")
    run("send", name, "x")
    run("purge", name)
    fifo = run("create", f"{name}.fifo", "--fifo", "--json").stdout
    assert json.loads(fifo)["QueueUrl"].endswith(".fifo")
    run("send", f"{name}.fifo", "f", "--group", "g", "--dedup", "d")
    table = run("receive", f"{name}.fifo").stdout.splitlines()
    assert table[0].split() == ["MESSAGE", "ID", "RECEIVES", "BODY"] and table[1].split()[1:] == ["1", "f"]
    failed = run("send", f"{name}.fifo", "no group", check=False)
    assert failed.returncode == 1
    assert "SendMessage failed: 400 MissingParameter: The request must contain the parameter MessageGroupId." in failed.stderr
    run("delete", name)
    missing = run("attrs", name, check=False)
    assert "AWS.SimpleQueueService.NonExistentQueue" in missing.stderr


def re_line(text: str, name: str, value: str) -> bool:
    return any(line.split() == [name, value] for line in text.splitlines())
