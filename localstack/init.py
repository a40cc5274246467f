#!/usr/bin/env python3
"""Creates what ProximaDB uses in a local AWS emulator: the `proximadb` bucket
and the flush/compaction queues (with a dead-letter queue). Idempotent.

    init.py ENDPOINT [--queues-only]"""
import json
import sys

import boto3

endpoint = sys.argv[1]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
if "--queues-only" not in sys.argv:
    try:
        s3.create_bucket(Bucket="proximadb")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
dlq = sqs.create_queue(QueueName="proximadb-dead-letter")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
for name in ("proximadb-flush", "proximadb-compaction"):
    sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "300",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})
print(f"bucket proximadb and queues proximadb-flush, proximadb-compaction ready at {endpoint}")
