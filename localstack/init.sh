#!/bin/sh
# LocalStack's ready hook inside the container: the bucket and queues ProximaDB uses.
awslocal s3 mb s3://proximadb
awslocal sqs create-queue --queue-name proximadb-dead-letter
for q in proximadb-flush proximadb-compaction; do
  awslocal sqs create-queue --queue-name "$q" --attributes '{"VisibilityTimeout":"300","RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:proximadb-dead-letter\",\"maxReceiveCount\":\"5\"}"}'
done
