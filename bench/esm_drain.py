#!/usr/bin/env python3
"""Event source mapping drain: how long cloudlet takes to push N messages
from an SQS queue through a mapping into a Python function and delete them.

Run through `bench/esm-drain` (it builds cloudlet in release mode first):

    bench/esm-drain                       # 100,000 messages per case
    bench/esm-drain --messages 20000

For each case (BatchSize 10 without a batching window; BatchSize 100 with a
1 s window) it starts a fresh daemon, fills a queue with N 10-byte JSON
bodies (SendMessageBatch, 4 connections), creates the mapping into
tests/fixtures/functions/python/batch.py, and times from CreateEventSourceMapping
until the queue reports no messages, visible or in flight. It then checks
that every message was deleted exactly once (the queue's deleted counter on
/metrics equals N) and reports the poller's concurrency at the end.

stdlib only, like bench/functions.py, whose daemon and client helpers it uses.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from functions import FIXTURES, JSON_HEADERS, ROLE, Client, Cloudlet, Service, log, machine, zip_entries  # noqa: E402

SQS_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}


def sqs(client: Client, operation: str, body: dict) -> dict:
    headers = {**SQS_HEADERS, "X-Amz-Target": f"AmazonSQS.{operation}"}
    status, _, data = client.call("POST", "/", json.dumps(body).encode(), headers)
    if status != 200:
        raise RuntimeError(f"{operation} returned {status}: {data[:300]!r}")
    return json.loads(data or b"{}")


def fill(address: str, url: str, messages: int, threads: int = 4) -> float:
    next_id = iter(range(0, messages, 10))
    lock = threading.Lock()

    def sender() -> None:
        client = Client(address)
        while True:
            with lock:
                start = next(next_id, None)
            if start is None:
                break
            entries = [{"Id": str(i), "MessageBody": json.dumps({"n": start + i})}
                       for i in range(min(10, messages - start))]
            result = sqs(client, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
            if result.get("Failed"):
                raise RuntimeError(f"send failed: {result['Failed'][:2]}")
        client.close()

    began = time.perf_counter()
    workers = [threading.Thread(target=sender) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - began


def metric(client: Client, name: str, **labels: str) -> float:
    _, _, data = client.call("GET", "/metrics")
    total = 0.0
    for line in data.decode().splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def drain_case(binary: Path, work: Path, messages: int, batch_size: int, window_s: int) -> dict:
    cloudlet = Cloudlet(binary, work / f"data-{batch_size}", work / f"logs-{batch_size}")
    cloudlet.start()
    try:
        client = Client(cloudlet.address)
        zip_bytes = zip_entries({"batch.py": ((FIXTURES / "python" / "batch.py").read_bytes(), 0o644)})
        body = json.dumps({"FunctionName": "drain", "Runtime": "python3.11", "Handler": "batch.handler",
                           "Role": ROLE, "Code": {"ZipFile": base64.b64encode(zip_bytes).decode()},
                           "MemorySize": 256, "Timeout": 30}).encode()
        status, _, data = client.call("POST", "/2015-03-31/functions", body, JSON_HEADERS)
        if status != 201:
            raise RuntimeError(f"CreateFunction returned {status}: {data[:300]!r}")
        url = sqs(client, "CreateQueue", {"QueueName": "drain", "Attributes": {"VisibilityTimeout": "60"}})["QueueUrl"]
        arn = sqs(client, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]})["Attributes"]["QueueArn"]
        log(f"  filling {messages:,} messages (BatchSize {batch_size}, window {window_s} s)")
        fill_s = fill(cloudlet.address, url, messages)
        mapping = json.dumps({"EventSourceArn": arn, "FunctionName": "drain", "BatchSize": batch_size,
                              "MaximumBatchingWindowInSeconds": window_s}).encode()
        began = time.perf_counter()
        status, _, data = client.call("POST", "/2015-03-31/event-source-mappings", mapping, JSON_HEADERS)
        if status != 202:
            raise RuntimeError(f"CreateEventSourceMapping returned {status}: {data[:300]!r}")
        peak = 0.0
        while True:
            attributes = sqs(client, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": [
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})["Attributes"]
            left = int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
            peak = max(peak, metric(client, "cloudlet_lambda_event_source_mapping_concurrency"))
            if left == 0:
                break
            if time.perf_counter() - began > 1800:
                raise RuntimeError(f"not drained after 30 minutes: {left} left")
            time.sleep(0.05)
        drain_s = time.perf_counter() - began
        deleted = metric(client, "cloudlet_sqs_messages_deleted_total", queue="drain")
        batches = metric(client, "cloudlet_lambda_event_source_mapping_batches_total", outcome="success")
        cold = metric(client, "cloudlet_lambda_invocations_total", start="cold")
        client.close()
        if int(deleted) != messages:
            raise RuntimeError(f"{messages} sent but {deleted} deleted")
        return {"batch_size": batch_size, "window_s": window_s, "messages": messages, "fill_s": fill_s,
                "drain_s": drain_s, "per_s": messages / drain_s, "batches": int(batches),
                "peak_concurrency": int(peak), "cold_starts": int(cold)}
    finally:
        cloudlet.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cloudlet", type=Path, required=True, help="the cloudlet binary (release)")
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cloudlet-esm-drain-") as work:
        try:
            for batch_size, window_s in ((10, 0), (100, 1)):
                rows.append(drain_case(args.cloudlet, Path(work), args.messages, batch_size, window_s))
        finally:
            Service.stop_all()
    info = machine()
    print(f"event source mapping drain, {args.messages:,} messages, python3.11 batch.py, "
          f"{info.get('Model name', '?')} ({info.get('CPU(s)', '?')} CPUs), commit {info.get('commit', '?')}")
    print("| BatchSize | window | fill s | drain s | messages/s | batches | peak pollers | cold starts |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['batch_size']} | {r['window_s']} s | {r['fill_s']:.1f} | {r['drain_s']:.1f} | "
              f"{r['per_s']:,.0f} | {r['batches']:,} | {r['peak_concurrency']} | {r['cold_starts']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
