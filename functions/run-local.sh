#!/usr/bin/env bash
# ProximaDB's functions end to end on this machine, as Lambda would run them:
# moto (S3 + SQS, signatures verified) as the cloud, AWS's Runtime Interface
# Emulator running the packaged zip inside an otherwise empty chroot (root
# needed for chroot), and this script playing Lambda's SQS event source mapping.
#
#   the api function creates a collection and ingests 100,000 vectors; a flush
#   request queues a job; the worker function runs it from an SQS event;
#   searches see every acknowledged vector before and after; a poison message
#   comes back as a batch item failure and reaches the dead-letter queue; bad
#   events and requests get answers; then every process is stopped and a
#   brand-new api process answers the same query from the bucket alone.
#
# Last line: PASS <n> checks, or FAIL <reason>.
#   functions/run-local.sh [--build] [--vectors N] [--dim D]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup --test >&2
exec python3 functions/local/run_local.py "$@"
