"""The function scenario of functions/run-local.sh; see that file."""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

import harness


class Failed(Exception):
    pass


class Checks:
    def __init__(self):
        self.passed = 0

    def __call__(self, condition, what):
        if not condition:
            raise Failed(what)
        self.passed += 1
        print(f"ok {self.passed}: {what}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vectors", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2_000)
    ap.add_argument("--build", action="store_true", help="build the package first (functions/package)")
    args = ap.parse_args()
    check = Checks()
    logs = tempfile.mkdtemp(prefix="proximadb-run-local-")
    started = []
    moto = sandbox = None
    try:
        zip_path = harness.package(build=args.build)
        moto = harness.Moto()
        sqs, url, arn, dead = harness.jobs_queue(moto)
        sandbox = harness.Sandbox(zip_path)
        check(sandbox.files()[0] == "dev/null" and "var/task/bootstrap" in sandbox.files() and "rie" in sandbox.files()
              and not any(f.startswith(("usr/", "lib/", "lib64/", "etc/", "bin/")) for f in sandbox.files()),
              "the sandbox holds the emulator and the package alone (no /usr, /lib, /etc)")
        env = {**moto.env(), "PROXIMADB_STORAGE": f"s3://{moto.bucket}/data", "PROXIMADB_QUEUE": url,
               "PROXIMADB_MAX_BODY_MB": "4"}

        def function(role, timeout_s):
            f = harness.Function(sandbox, role, env, os.path.join(logs, f"{role}-{len(started)}.log"), timeout_s=timeout_s)
            started.append(f)
            return f

        api = function("api", 60)
        status, body, _, _ = api.http("GET", "/collections")
        check(status == 401 and body["error"] == "unauthorized", f"the api function refuses requests without a credential ({status})")
        harness.create_key(env)
        status, body, headers, _ = api.http("GET", "/health")
        check(status == 200 and body["data"]["status"] == "ok" and headers.get("x-request-id"),
              "the api function answers /health with a request id")
        status, body, _, _ = api.http("POST", "/collections", {"name": "docs", "dimension": args.dim, "distance_metric": "euclidean"})
        check(status == 201, f"creates a collection ({status} {body})")

        rng = np.random.default_rng(7)
        vectors = rng.standard_normal((args.vectors, args.dim)).astype(np.float32)
        acked = 0
        t0 = time.perf_counter()
        for start in range(0, args.vectors, args.batch):
            batch = [{"id": f"v{i}", "vector": vectors[i].tolist(), "metadata": {"n": i}}
                     for i in range(start, min(start + args.batch, args.vectors))]
            status, body, _, _ = api.http("POST", "/collections/docs/vectors", {"vectors": batch})
            if status != 200:
                raise Failed(f"insert batch at {start}: {status} {body}")
            acked += body["data"]["count"]
        ingest_s = time.perf_counter() - t0
        check(acked == args.vectors, f"ingests {acked:,} vectors through the api function ({acked / ingest_s:,.0f} vectors/s)")

        sample = rng.choice(args.vectors, 20, replace=False)

        def sees_every_vector(when):
            status, body, _, _ = api.http("GET", "/collections/docs")
            check(status == 200 and body["data"]["vector_count"] == args.vectors,
                  f"{when}: the collection counts every acknowledged vector ({body['data']['vector_count']:,})")
            answers = []
            for i in sample:
                status, got, _, _ = api.http("POST", "/collections/docs/search",
                                             {"vector": vectors[i].tolist(), "k": 3, "exact": True})
                hits = got["data"]["results"] if status == 200 else []
                if not hits or hits[0]["id"] != f"v{i}":
                    raise Failed(f"{when}: exact search for v{i} answered {status} {got}")
                answers.append([h["id"] for h in hits])
            check(True, f"{when}: exact searches find each of 20 sampled vectors first")
            status, got, _, _ = api.http("GET", f"/collections/docs/vectors/v{sample[0]}")
            check(status == 200 and got["data"]["metadata"] == {"n": int(sample[0])}, f"{when}: reads a vector back by id")
            return answers

        before = sees_every_vector("before the flush")

        status, body, _, _ = api.http("POST", "/collections/docs/flush")
        check(status == 202 and body["data"]["status"] == "queued", "a flush request queues a job")
        worker = function("worker", 600)
        batches, failed = harness.drive_queue(sqs, url, arn, worker)
        check(batches >= 1 and not failed, f"the worker function ran the queued jobs ({batches} SQS batches, none failed)")
        status, body, _, _ = api.http("GET", "/collections/docs")
        d = body["data"]
        check(d["manifest_version"] >= 1 and d["unflushed_wal_bytes"] == 0 and d["segment_count"] >= 1,
              f"the WAL is in segments now (manifest {d['manifest_version']}, {d['segment_count']} segments, "
              f"{d['indexed_segment_count']} indexed)")
        after = sees_every_vector("after the flush")
        check(after == before, "searches answer the same before and after the flush")

        # A poison message: reported as the batch's only failure, then dead-lettered by the redrive policy.
        sqs.send_message(QueueUrl=url, MessageBody="{this is not a job")
        poison_failures = 0
        for _ in range(4):
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                      AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
            if not got:
                break
            answer, _ = worker.invoke(harness.sqs_event(got, arn))
            failures = [f["itemIdentifier"] for f in answer.get("batchItemFailures", [])]
            if failures != [got[0]["MessageId"]]:
                raise Failed(f"the poison message was not reported as the batch's failure: {answer}")
            poison_failures += 1
            # Lambda leaves a failed message for its visibility timeout; here it comes back at once.
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
        check(poison_failures == 2, f"the poison message comes back as a batch item failure ({poison_failures} deliveries)")
        dead_letters = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        check([m["Body"] for m in dead_letters] == ["{this is not a job"], "the redrive policy moved it to the dead-letter queue")

        # Bad input through the function path: HTTP answers, and the runtime keeps serving.
        answer, _ = api.invoke(harness.sample("scheduled.json"))
        check(answer.get("errorType") == "InvalidEvent", "an event that is not HTTP gets a structured function error")
        check(api.http("GET", "/health")[0] == 200, "the runtime serves the next event after it")
        answer, _ = api.invoke(b"{not json")
        check(answer.get("errorType") == "InvalidEvent" and api.http("GET", "/health")[0] == 200,
              "malformed event JSON: a function error, then the next event is served")
        # Over PROXIMADB_MAX_BODY_MB (4 MiB) yet, base64-encoded, under the 6 MB Lambda (and the emulator) accept.
        status, body, _, _ = api.http("POST", "/collections/docs/vectors", raw_body=b'{"vectors": [' + b" " * (4 * 1024 * 1024 + 200 * 1024) + b"]}")
        check(status == 413 and body["error"] == "payload_too_large", f"an oversize body gets 413 ({status})")
        status, body, _, _ = api.http("GET", "/no/such/route")
        check(status == 404 and body["error"] == "not_found", "an unknown route gets 404 not_found")
        status, body, _, _ = api.http("POST", "/collections/docs/search", raw_body=b'{"vector": [1, 2')
        check(status == 400 and body["error"] == "invalid_json", "malformed JSON gets 400 invalid_json")
        status, body, _, _ = api.http("POST", "/collections/docs/vectors", {"vectors": [{"id": "nan", "vector": [float("nan")] * args.dim}]})
        check(status == 400, f"a NaN vector gets 400 ({body['error'] if isinstance(body, dict) else body})")
        check(api.http("GET", "/collections/docs")[1]["data"]["vector_count"] == args.vectors and api.alive(),
              "after every bad request the same process answers and nothing stored changed")

        # Deadlines: a flush waited for with no worker running cannot finish in a 2 s function.
        short = harness.Function(sandbox, "api", env, os.path.join(logs, "api-short.log"), timeout_s=2)
        started.append(short)
        status, body, _, seconds = short.http("POST", "/collections/docs/flush", query="wait=true")
        check(status == 504 and body["error"] == "deadline_exceeded" and seconds < 2.0,
              f"work that cannot finish before the deadline is answered 504 in time ({seconds:.2f} s of 2)")
        check(short.http("GET", "/health")[0] == 200, "the process that hit its deadline serves the next event")
        short.stop()
        # Init failures are reported through init/error, not as a crash loop.
        broken = harness.Function(sandbox, "api", {k: v for k, v in env.items() if k != "PROXIMADB_STORAGE"},
                                  os.path.join(logs, "api-broken.log"))
        started.append(broken)
        try:
            answer, _ = broken.invoke(harness.http_event("GET", "/health"))
        except Exception as e:  # the emulator may answer an init failure with an HTTP error status
            answer = {"errorType": getattr(e, "read", lambda: b"")().decode(errors="replace")}
        with open(broken.log_path, errors="replace") as f:
            init_log = f.read()
        check("Runtime.InitError" in json.dumps(answer) + init_log and "PROXIMADB_STORAGE" in init_log,
              "a function missing its configuration reports Runtime.InitError through init/error")
        broken.stop()

        # Scale to zero, then a brand-new process answers from the bucket alone.
        for f in started:
            f.stop()
        check(harness.processes_under(sandbox.root) == [], "every function process is stopped (scale to zero)")
        # Its /tmp cache starts empty, so the answer comes from the bucket alone.
        env["PROXIMADB_CACHE_DIR"] = "/tmp/fresh-process-cache"
        fresh = function("api", 60)
        status, got, _, first_s = fresh.http("POST", "/collections/docs/search", {"vector": vectors[sample[0]].tolist(), "k": 3, "exact": True})
        check(status == 200 and [h["id"] for h in got["data"]["results"]] == after[0],
              f"a brand-new api process answers the same query from the bucket alone (first query {first_s * 1000:.0f} ms, "
              f"init {fresh.init_durations_ms()[0]:.1f} ms)")
        print(f"PASS {check.passed} checks")
        return 0
    except Failed as e:
        print(f"FAIL {e} (logs in {logs})")
        return 1
    except Exception as e:  # noqa: BLE001 - any other failure is a FAIL line too
        print(f"FAIL {type(e).__name__}: {e} (logs in {logs})")
        return 1
    finally:
        for f in started:
            if f.alive() or f.proc.returncode is None:
                f.stop()
        if sandbox:
            sandbox.remove()
        if moto:
            moto.stop()


if __name__ == "__main__":
    sys.exit(main())
