"""Shared fixtures: the real `proximadb` binary, started on loopback per test."""
import os
import random
import re
import socket
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def binary():
    path = os.environ.get("PROXIMADB_BIN") or os.path.join(ROOT, ".build", "debug", "proximadb")
    if not os.path.exists(path):
        raise RuntimeError(f"proximadb binary not found at {path}: run `swift build` first")
    return path


class Process:
    """A child process the tests start and stop (`self.proc`)."""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


# Every log file a test's process writes, and every credential a test makes:
# at the end of the session no log may contain any of them (`no_secrets_in_logs`).
LOGS = []
SECRETS = set()


def log_file(kind):
    path = os.path.join(tempfile.gettempdir(), f"proximadb-{kind}-{os.getpid()}-{random.random()}.log")
    LOGS.append(path)
    return open(path, "w+")


@pytest.fixture(scope="session", autouse=True)
def no_secrets_in_logs():
    """Fails the session if any process logged an API key or token a test created."""
    yield
    leaks = []
    for path in LOGS:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        leaks += [(path, secret[:12] + "...") for secret in SECRETS if secret in text]
    assert not leaks, f"credentials found in logs: {leaks}"


def create_key(storage, tenant="default", role="admin", extra=()):
    """An API key made with `proximadb keys create`, straight on the store."""
    storage = storage if "://" in storage else f"file://{storage}"
    out = subprocess.run([binary(), "keys", "create", "--storage", storage, "--tenant", tenant, "--role", role, *extra],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    assert key.startswith("pdb_") and "\n" not in key and key not in out.stderr, (out.stdout, out.stderr)
    SECRETS.add(key)
    return key


class LocalHTTP:
    """A tiny HTTP server on loopback for what a test stands up beside ProximaDB
    (an identity provider's JWKS, a recording S3): `respond(path, headers)`
    returns (status, body bytes, content type)."""

    def __init__(self, respond):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, body, content_type = respond(self.path, self.headers)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def free_port():
    """A loopback port free right now (the server binds it moments later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(Process):
    """One `proximadb serve` process on a free port over a data directory."""

    def __init__(self, data_dir, port=0, extra=(), env=None, log_level="warning", api_key=None, grpc=False):
        """With `grpc`, gRPC listens too (on a free port: `self.grpc_target`); else it is off."""
        self.data_dir = data_dir
        storage = data_dir if "://" in data_dir else f"file://{data_dir}"
        self.log = log_file("serve")
        grpc_port = free_port() if grpc else 0
        if "--grpc-port" not in extra:
            extra = [*extra, "--grpc-port", str(grpc_port)]
        self.proc = subprocess.Popen(
            [binary(), "serve", "--storage", storage, "--port", str(port), "--log-level", log_level, *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
        )
        deadline = time.time() + 60
        self.url = None
        self.grpc_target = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"gRPC listening on \w+://(\S+)", line)
            if m:
                self.grpc_target = m.group(1)
            else:
                m = re.search(r"listening on (https?://\S+)", line)
                if m:
                    self.url = m.group(1)
            if self.url and (self.grpc_target or not grpc):
                break
        if not self.url or (grpc and not self.grpc_target):
            self.kill()
            self.log.seek(0)
            raise RuntimeError(f"proximadb did not start: {self.log.read()[-2000:]}")
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = "Bearer " + api_key

    def request(self, method, path, timeout=60, **kw):
        return self.session.request(method, self.url + path, timeout=timeout, **kw)

    def ok(self, method, path, **kw):
        r = self.request(method, path, **kw)
        assert r.status_code in (200, 201), (r.status_code, r.text)
        body = r.json()
        assert body["success"] is True, body
        return body["data"]



class Worker(Process):
    """One `proximadb worker` process consuming a job queue."""

    def __init__(self, storage, extra=(), env=None):
        self.log = log_file("worker")
        self.proc = subprocess.Popen(
            [binary(), "worker", "--storage", storage, "--log-level", "warning", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
        )
        line = self.proc.stdout.readline()
        if "consuming" not in line:
            self.kill()
            self.log.seek(0)
            raise RuntimeError(f"proximadb worker did not start: {line} {self.log.read()[-2000:]}")

    def alive(self):
        return self.proc.poll() is None



def read_manifest(raw: bytes):
    """A manifest object: JSON, then a `crc32c:<n>` line (checked by the engine)."""
    body, _, trailer = raw.rstrip(b"\n").rpartition(b"\n")
    assert trailer.startswith(b"crc32c:"), trailer
    import json
    return json.loads(body)


@pytest.fixture
def data_dir():
    d = tempfile.mkdtemp(prefix="proximadb-it-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def server(data_dir):
    s = Server(data_dir)
    yield s
    s.stop()
