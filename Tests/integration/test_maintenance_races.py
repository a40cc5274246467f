"""Several writer processes and several worker processes on one collection,
with workers killed (-9) mid-job and job messages delivered twice: no
acknowledged write lost, no deleted record back, no duplicate in results, and
the manifest history a single chain. Runs on a local directory with the
directory queue, and on S3 + SQS (moto, signatures verified)."""
import glob
import os
import random
import shutil
import threading
import time
import uuid

import boto3
import pytest

from conftest import Server, Worker, read_manifest
from test_s3_backend import env_for, moto  # noqa: F401  (module fixture)

DIM = 16
CHAOS_SECONDS = float(os.environ.get("PROXIMADB_RACE_SECONDS", "20"))


def vec(i):
    r = random.Random(i)
    return [r.uniform(-1, 1) for _ in range(DIM)]


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.live = set()
        self.deleted = set()


def writer(server, name, ledger, stop, errors):
    """Deletes and upserts touch only this writer's own ids, so the ledger is exact."""
    mine = set()
    n = 0
    try:
        while not stop.is_set():
            ids = [f"{name}-{n}-{i}" for i in range(40)]
            n += 1
            r = server.request("POST", "/collections/c/vectors", json={"vectors": [
                {"id": x, "vector": vec(hash(x) & 0xFFFF), "metadata": {"w": name, "n": n}} for x in ids]})
            if r.status_code == 200:
                mine.update(ids)
                with ledger.lock:
                    ledger.live.update(ids)
            elif r.status_code not in (503,):
                errors.append(("insert", r.status_code, r.text))
            if n % 5 == 0:
                victims = random.sample(sorted(mine), min(10, len(mine)))
                r = server.request("POST", "/collections/c/vectors/delete", json={"ids": victims})
                if r.status_code == 200:
                    mine.difference_update(victims)
                    with ledger.lock:
                        ledger.live.difference_update(victims)
                        ledger.deleted.update(victims)
                else:
                    errors.append(("delete", r.status_code, r.text))
            if n % 7 == 0:  # upserts of live ids
                again = random.sample(sorted(mine), min(5, len(mine)))
                r = server.request("POST", "/collections/c/vectors", json={"upsert": True, "vectors": [
                    {"id": x, "vector": vec(n), "metadata": {"w": name, "upserted": True}} for x in again]})
                if r.status_code != 200:
                    errors.append(("upsert", r.status_code, r.text))
    except Exception as e:  # noqa: BLE001
        errors.append(("writer", repr(e)))


def run_races(storage, env, queue, list_manifests, duplicate_messages=None):
    worker_args = ["--queue", queue, "--visibility-timeout", "3", "--gc-grace-seconds", "5", "--max-attempts", "100"]
    servers = [Server(storage, env=env, extra=["--workers", "0", "--queue", queue]) for _ in range(2)]
    workers = [Worker(storage, extra=worker_args, env=env) for _ in range(4)]
    stop = threading.Event()
    ledger = Ledger()
    errors = []
    kills = 0
    try:
        # No ANN index: this is about the races of the manifest chain, and index builds in a debug
        # binary would make every job slow (indexes under concurrent writes: MaintenanceTests).
        servers[0].ok("POST", "/collections", json={"name": "c", "dimension": DIM, "distance_metric": "euclidean",
                                                    "indexing_algorithm": "flat",
                                                    "config": {"max_wal_size_bytes": 64 * 1024}})
        threads = [threading.Thread(target=writer, args=(servers[i % 2], f"w{i}", ledger, stop, errors)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + CHAOS_SECONDS
        while time.time() < deadline:
            time.sleep(random.uniform(0.3, 1.0))
            i = random.randrange(len(workers))
            workers[i].kill()
            kills += 1
            workers[i] = Worker(storage, extra=worker_args, env=env)
            servers[random.randrange(2)].request("POST", "/collections/c/compact")
            servers[random.randrange(2)].request("POST", "/collections/c/flush")
            if duplicate_messages:
                duplicate_messages()
        stop.set()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors[:5]
        # Drain: everything flushed and compacted by the surviving workers.
        report = servers[0].ok("POST", "/collections/c/flush?wait=true", timeout=600)
        assert report["status"] in ("done", "noop", "superseded"), report
        report = servers[1].ok("POST", "/collections/c/compact?wait=true", timeout=600)
        assert report["status"] in ("done", "noop", "superseded"), report

        for s in servers:  # both processes, and a fresh one below, agree
            info = s.ok("GET", "/collections/c")
            assert info["vector_count"] == len(ledger.live), (info, len(ledger.live))
        fresh = Server(storage, env=env, extra=["--workers", "0", "--queue", queue])
        try:
            assert fresh.ok("GET", "/collections/c")["vector_count"] == len(ledger.live)
            for x in random.sample(sorted(ledger.live), min(300, len(ledger.live))):
                assert fresh.request("GET", f"/collections/c/vectors/{x}").status_code == 200, x
            for x in random.sample(sorted(ledger.deleted), min(300, len(ledger.deleted))):
                assert fresh.request("GET", f"/collections/c/vectors/{x}").status_code == 404, x
            for q in range(5):
                hits = fresh.ok("POST", "/collections/c/search", json={"vector": vec(10_000 + q), "k": 200})["results"]
                ids = [h["id"] for h in hits]
                assert len(ids) == len(set(ids)) == min(200, len(ledger.live))
                assert not set(ids) & ledger.deleted
        finally:
            fresh.stop()
        manifests = list_manifests()
        versions = [m["version"] for m in manifests]
        assert len(versions) >= 2 and versions == list(range(versions[0], versions[0] + len(versions))), versions
        for a, b in zip(manifests, manifests[1:]):
            assert b["wal_through"] >= a["wal_through"]
        print(f"races: {len(ledger.live)} live, {len(ledger.deleted)} deleted, {kills} worker kills, "
              f"manifest versions {versions[0]}..{versions[-1]}")
    finally:
        stop.set()
        for w in workers:
            w.kill()
        for s in servers:
            s.stop()


def test_races_on_local_directory(data_dir):
    ready = os.path.join(data_dir, ".queue", "jobs", "ready")

    def duplicate_messages():
        for name in os.listdir(ready) if os.path.isdir(ready) else []:
            try:  # the same message again, under a new name: delivered twice
                shutil.copy(os.path.join(ready, name), os.path.join(ready, name.replace("~", "x~", 1)))
            except FileNotFoundError:
                pass

    def list_manifests():
        paths = sorted(glob.glob(os.path.join(data_dir, "default", "*", "manifest", "*")))
        return [read_manifest(open(p, "rb").read()) for p in paths]

    run_races(f"file://{data_dir}", None, "dir://" + os.path.join(data_dir, ".queue", "jobs"), list_manifests, duplicate_messages)


def test_races_on_s3_and_sqs(moto):  # noqa: F811
    env = env_for(moto)
    prefix = f"races-{uuid.uuid4().hex[:8]}"
    storage = f"s3://serve-bucket/{prefix}"
    s3 = boto3.client("s3", endpoint_url=moto["endpoint"], region_name="us-east-1",
                      aws_access_key_id=moto["access_key_id"], aws_secret_access_key=moto["secret_access_key"])

    def list_manifests():
        out = []
        collection_id = None
        catalog = s3.get_object(Bucket="serve-bucket", Key=f"{prefix}/catalog/default/c.json")["Body"].read()
        import json
        collection_id = json.loads(catalog)["id"]
        version = 1
        misses = 0
        while misses < 200:
            key = f"{prefix}/default/{collection_id}/manifest/{version:020d}"
            try:
                out.append(read_manifest(s3.get_object(Bucket="serve-bucket", Key=key)["Body"].read()))
                misses = 0
            except s3.exceptions.NoSuchKey:
                if out:
                    break
                misses += 1
            version += 1
        return out

    run_races(storage, env, f"sqs://races-{prefix}", list_manifests)
