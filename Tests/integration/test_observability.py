"""What operators see: /metrics that promtool accepts and whose counters move
by what a known workload did, one JSON log line per request with its id, and
/health and /ready with the seed's fields."""
import json
import subprocess
import time

import pytest

from conftest import LocalHTTP, Server, create_key


def metrics(server, key):
    r = server.request("GET", "/metrics", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    return r.text


def value(text, name, **labels):
    """The sample of `name` with exactly these labels (0 if absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = f"{name}{{{want}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_metrics_pass_promtool_and_count_a_known_workload(tmp_path):
    key = create_key(str(tmp_path), "t", "admin")
    s = Server(str(tmp_path), extra=["--queue", "inline"], log_level="info", api_key=key)
    try:
        s.ok("POST", "/collections", json={"name": "m", "dimension": 4})
        before = metrics(s, key)
        for b in range(3):
            s.ok("POST", "/collections/m/vectors", json={"vectors": [{"id": f"{b}-{i}", "vector": [i, b, 1, 2]} for i in range(10)]})
        for _ in range(5):
            s.ok("POST", "/collections/m/search", json={"vector": [1, 1, 1, 1], "k": 3})
        for _ in range(2):
            assert s.request("GET", "/collections", headers={"Authorization": "Bearer nope"}).status_code == 401
        after = metrics(s, key)

        check = subprocess.run(["promtool", "check", "metrics"], input=after, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        route = "/collections/{name}/vectors"
        assert delta("proximadb_http_requests_total", method="POST", route=route, status="200") == 3
        assert delta("proximadb_http_request_duration_seconds_count", route=route, status="200") == 3
        assert delta("proximadb_http_requests_total", method="GET", route="/collections", status="401") == 2
        assert delta("proximadb_auth_failures_total", reason="unauthorized") == 2
        assert delta("proximadb_vectors_written_total") == 30
        assert delta("proximadb_queries_total") == 5
        assert delta("proximadb_wal_appends_total") == 3
        assert delta("proximadb_wal_append_records_sum") == 30
        assert delta("proximadb_storage_operations_total", operation="put", outcome="ok") >= 3
        # The unindexed backlog (issue 14): the three writes, then nothing once a flush indexed them.
        assert value(after, "proximadb_unindexed_wal_bytes") == delta("proximadb_wal_append_bytes_sum") > 0
        assert value(after, "proximadb_oldest_unindexed_write_age_seconds") > 0
        s.ok("POST", "/collections/m/flush?wait=true")
        s.ok("GET", "/collections/m")  # the gauges are as of the handle's last catch-up with the store
        flushed = metrics(s, key)
        assert value(flushed, "proximadb_unindexed_wal_bytes") == 0 and value(flushed, "proximadb_oldest_unindexed_write_age_seconds") == 0
        # Labels never carry keys, tenants or collection names.
        assert key not in after and 'tenant="' not in after and '"m"' not in after
    finally:
        s.stop()


def test_one_json_log_line_per_request_with_its_id(tmp_path):
    key = create_key(str(tmp_path), "acme", "admin")
    s = Server(str(tmp_path), log_level="info", api_key=key)
    try:
        r = s.request("POST", "/collections", json={"name": "logs", "dimension": 2}, headers={"X-Request-Id": "caller-id-42"})
        assert r.status_code == 201 and r.headers["X-Request-Id"] == "caller-id-42"
        r = s.request("GET", "/collections/nope")
        generated = r.headers["X-Request-Id"]
        assert r.status_code == 404 and len(generated) >= 16
        # A hostile id (control characters, too long) is replaced, not echoed.
        r = s.request("GET", "/collections", headers={"X-Request-Id": "x" * 500})
        assert r.headers["X-Request-Id"] != "x" * 500
    finally:
        s.stop()
    s.log.seek(0)
    lines = [json.loads(line) for line in s.log.read().splitlines() if line.startswith("{")]
    requests = {line["request_id"]: line for line in lines if line.get("msg") == "request"}
    first = requests["caller-id-42"]
    assert first["tenant"] == "acme" and first["route"] == "/collections" and first["status"] == 201 and first["method"] == "POST"
    assert float(first["latency_ms"]) >= 0 and first["level"] == "info" and "ts" in first
    assert requests[generated]["status"] == 404
    assert all(key not in json.dumps(line) for line in lines)


def test_health_and_ready_carry_the_seed_fields(tmp_path):
    s = Server(str(tmp_path))
    try:
        for path, status in (("/health", "ok"), ("/ready", "ready")):
            data = s.ok("GET", path)
            assert data["status"] == status and data["version"] and data["uptime_seconds"] >= 0
            assert data["memory_rss_bytes"] > 1 << 20 and data["storage"].startswith("file://")
    finally:
        s.stop()


def test_budgets_bound_requests_disconnects_and_shutdown(tmp_path):
    """Every object-store call takes 1.5 s here: a request past --request-timeout
    gets 504 at once, a client that hangs up cancels its request, and SIGTERM
    ends the process within --shutdown-timeout even with a request running."""
    import requests
    s = Server(str(tmp_path), log_level="info", extra=[
        "--storage-latency-ms", "1500", "--request-timeout", "1", "--shutdown-timeout", "2", "--queue", "inline"])
    try:
        start = time.time()
        r = s.request("GET", "/collections/slow")
        assert r.status_code == 504 and r.json()["error"] == "deadline_exceeded", r.text
        assert time.time() - start < 1.4
        with pytest.raises(requests.exceptions.Timeout):
            requests.get(s.url + "/collections", timeout=0.3)
        time.sleep(1.5)
    finally:
        s.stop()
    s.log.seek(0)
    assert "closed its connection" in s.log.read()

    # (Start-up reads the key set: one slow call.)
    slow = Server(str(tmp_path), extra=["--storage-latency-ms", "6000", "--request-timeout", "0", "--shutdown-timeout", "1"])
    import threading
    threading.Thread(target=lambda: requests.get(slow.url + "/collections", timeout=60), daemon=True).start()
    time.sleep(0.5)
    start = time.time()
    slow.proc.terminate()
    slow.proc.wait(timeout=15)
    assert time.time() - start < 4, "SIGTERM waited for the runaway request"


def test_traceparent_reaches_the_object_store(tmp_path):
    """A caller's W3C trace id is in the request's log line and on every
    object-store request the request causes (here, to a recording S3 endpoint)."""
    seen = []

    def recording_s3(path, headers):
        seen.append((path, headers.get("traceparent")))
        if "list-type=2" in path:
            return 200, b'<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>', "application/xml"
        return 404, b'<?xml version="1.0"?><Error><Code>NoSuchKey</Code></Error>', "application/xml"

    recorder = LocalHTTP(recording_s3)
    env = {**__import__("os").environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL_S3": recorder.url}
    s = Server("s3://traces/data?path_style=true", env=env, log_level="info", extra=["--queue", "inline"])
    try:
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        seen.clear()
        r = s.request("GET", "/collections", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
        assert r.status_code == 200, r.text
        assert seen and all(tp and tp.split("-")[1] == trace for _, tp in seen), seen
        # Each store call is its own span of the trace: the parent id is ours, not the caller's.
        assert all(tp.split("-")[2] != "00f067aa0ba902b7" for _, tp in seen)
        seen.clear()
        s.request("GET", "/collections", headers={"traceparent": "garbage"})
        assert seen and all(tp and len(tp.split("-")[1]) == 32 and tp.split("-")[1] != trace for _, tp in seen)
    finally:
        s.stop()
        recorder.stop()
    s.log.seek(0)
    lines = [json.loads(line) for line in s.log.read().splitlines() if line.startswith("{")]
    assert any(line.get("msg") == "request" and line.get("trace_id") == trace for line in lines)
