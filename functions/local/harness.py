"""Runs the packaged function the way Lambda would, on this machine: AWS's
Runtime Interface Emulator (RIE) and the unzipped package alone, inside an
otherwise empty chroot, so nothing from the build machine's libraries can leak
in. The root gets what the kernel gives every Linux root, Lambda's included:
/proc (libdispatch, under Swift's concurrency, reads its threads' states
there, and crashes without it) and the /dev/null, /dev/zero and /dev/urandom
nodes. Shared by functions/run-local.sh and functions/bench."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EVENTS = os.path.join(ROOT, "Tests", "fixtures", "events")
PACKAGE = os.path.join(ROOT, "functions", "build", "proximadb-lambda.zip")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sam_venv():
    return os.environ.get("PROXIMADB_SAM_VENV", os.path.join(os.environ.get("PROXIMADB_TOOLS", os.path.expanduser("~/.cache/proximadb")), "sam-venv"))


def rie_binary():
    """AWS's RIE, shipped inside PyPI's aws-sam-cli wheel (scripts/setup --test installs it)."""
    if os.environ.get("PROXIMADB_RIE"):
        return os.environ["PROXIMADB_RIE"]
    venv = sam_venv()
    for lib in sorted(os.listdir(os.path.join(venv, "lib"))) if os.path.isdir(os.path.join(venv, "lib")) else []:
        path = os.path.join(venv, "lib", lib, "site-packages", "samcli", "local", "rapid", "aws-lambda-rie-x86_64")
        if os.path.exists(path):
            return path
    sys.exit(f"the Runtime Interface Emulator is missing: run scripts/setup --test (looked in {venv})")


def package(build=False):
    """The zip; built (functions/package) when asked or missing."""
    if build or not os.path.exists(PACKAGE):
        subprocess.run([os.path.join(ROOT, "functions", "package")] + ([] if build else ["--skip-build"]) , check=True)
    return PACKAGE


def sample(name):
    with open(os.path.join(EVENTS, name)) as f:
        return json.load(f)


# The API key http_event sends (create_key sets it): the api function refuses requests without one.
API_KEY = None


def create_key(env, tenant="default", role="admin"):
    """Creates an API key in env's PROXIMADB_STORAGE with the packaged binary, as
    an operator would before the first request; http_event sends it from then on."""
    global API_KEY
    binary = os.path.join(ROOT, "functions", "build", "stage", "bin", "proximadb")
    out = subprocess.run([binary, "keys", "create", "--storage", env["PROXIMADB_STORAGE"], "--tenant", tenant, "--role", role],
                         env={**os.environ, **env}, capture_output=True, text=True, check=True)
    API_KEY = out.stdout.strip()
    return API_KEY


def http_event(method, path, body=None, query="", headers=None, raw_body=None):
    """An HTTP API (payload 2.0) event, from sam's sample: the shape Function URLs send too."""
    e = sample("http-api-v2.json")
    e["rawPath"] = path
    e["rawQueryString"] = query
    e["requestContext"]["http"]["method"] = method
    e["requestContext"]["http"]["path"] = path
    e["headers"] = {"content-type": "application/json", **({"authorization": "Bearer " + API_KEY} if API_KEY else {}), **(headers or {})}
    e["cookies"] = []
    data = raw_body if raw_body is not None else (b"" if body is None else json.dumps(body).encode())
    e["body"] = base64.b64encode(data).decode()
    e["isBase64Encoded"] = True
    return e


def sqs_event(messages, queue_arn="arn:aws:sqs:us-east-1:123456789012:proximadb-jobs"):
    """An SQS batch event, from sam's sample, for messages as boto3 receives them."""
    template = sample("sqs.json")["Records"][0]
    records = []
    for m in messages:
        r = json.loads(json.dumps(template))
        r["messageId"] = m["MessageId"]
        r["receiptHandle"] = m["ReceiptHandle"]
        r["body"] = m["Body"]
        r["md5OfBody"] = m.get("MD5OfBody", "")
        r["attributes"]["ApproximateReceiveCount"] = m.get("Attributes", {}).get("ApproximateReceiveCount", "1")
        r["eventSourceARN"] = queue_arn
        r["awsRegion"] = "us-east-1"
        records.append(r)
    return {"Records": records}


class Sandbox:
    """An otherwise empty root holding the RIE and the unzipped package at /var/task."""

    def __init__(self, zip_path):
        self.root = tempfile.mkdtemp(prefix="proximadb-lambda-root-")
        task = os.path.join(self.root, "var", "task")
        os.makedirs(task)
        with zipfile.ZipFile(zip_path) as z:
            for info in z.infolist():
                z.extract(info, task)
                os.chmod(os.path.join(task, info.filename), (info.external_attr >> 16) & 0o777 or 0o644)
        shutil.copy(rie_binary(), os.path.join(self.root, "rie"))
        os.chmod(os.path.join(self.root, "rie"), 0o755)
        os.makedirs(os.path.join(self.root, "tmp"))
        os.chmod(os.path.join(self.root, "tmp"), 0o1777)
        os.makedirs(os.path.join(self.root, "dev"))
        for name, minor in (("null", 3), ("zero", 5), ("urandom", 9)):
            os.mknod(os.path.join(self.root, "dev", name), 0o666 | 0o020000, os.makedev(1, minor))
        os.makedirs(os.path.join(self.root, "proc"))
        subprocess.run(["mount", "-t", "proc", "proc", os.path.join(self.root, "proc")], check=True)

    def files(self):
        """Every file in the root but the kernel's /proc."""
        out = []
        for d, dirs, names in os.walk(self.root):
            if d == self.root:
                dirs[:] = [x for x in dirs if x != "proc"]
            out += [os.path.relpath(os.path.join(d, n), self.root) for n in names]
        return sorted(out)

    def remove(self):
        subprocess.run(["umount", "-l", os.path.join(self.root, "proc")], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


class Function:
    """One function process: the RIE in the sandbox, running /var/task/bootstrap
    with `role` as its Handler. `invoke` sends one event and returns the payload."""

    def __init__(self, sandbox, role, env, log_path, timeout_s=60, memory_mb=1024, program=None):
        """`sandbox` None runs `program` (a binary, with `function` as its argument) under the
        emulator outside any chroot: for debugging with a debug build."""
        self.port = free_port()
        self.log_path = log_path
        environment = {
            "PATH": "/usr/bin:/bin", "_HANDLER": role, "LAMBDA_TASK_ROOT": "/var/task",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_s), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_FUNCTION_NAME": f"proximadb-{role}", **env,
        }
        self.log = open(log_path, "ab")
        rie = ["--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
               "--runtime-api-address", f"127.0.0.1:{free_port()}", "--log-level", "info"]
        if sandbox is None:
            command = [rie_binary()] + rie + [program, "function"]
        else:
            command = ["/usr/sbin/chroot", sandbox.root, "/rie"] + rie + ["/var/task/bootstrap"]
        self.proc = subprocess.Popen(command, env=environment, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"
        deadline = time.time() + 20
        while True:  # the RIE answers once it listens; the function itself starts on the first invocation
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the emulator did not start; see {log_path}")
                time.sleep(0.02)

    def invoke(self, event, timeout=600):
        """The function's payload (a dict), and the seconds the invocation took."""
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        start = time.perf_counter()
        req = urllib.request.Request(self.url, data=data, method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            payload = r.read()
        return json.loads(payload), time.perf_counter() - start

    def http(self, method, path, body=None, query="", **kw):
        """An HTTP request through the api function: (status, envelope, headers, seconds)."""
        answer, seconds = self.invoke(http_event(method, path, body, query, **kw))
        if "statusCode" not in answer:
            raise RuntimeError(f"not an HTTP answer: {answer}")
        text = answer.get("body", "")
        raw = base64.b64decode(text) if answer.get("isBase64Encoded") else text.encode()
        try:
            envelope = json.loads(raw) if raw else None
        except ValueError:
            envelope = raw.decode(errors="replace")
        return answer["statusCode"], envelope, answer.get("headers", {}), seconds

    def init_durations_ms(self):
        """The init durations the emulator reported (one per cold start)."""
        with open(self.log_path, errors="replace") as f:
            text = f.read()
        return [float(m) for m in re.findall(r"INIT REPORT\(durationMs: ([0-9.]+)\)", text)]

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """Scale to zero: the emulator and the function process it started
        (which the emulator puts in a process group of its own), gone."""
        family = descendants(self.proc.pid)
        for pid in [self.proc.pid] + family:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        deadline = time.time() + 10
        while any(os.path.exists(f"/proc/{pid}") and not zombie(pid) for pid in family) and time.time() < deadline:
            time.sleep(0.02)
        self.log.close()


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def processes_under(root):
    """PIDs whose root directory is `root` (what a stopped sandbox must not leave running)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and not zombie(int(pid)):
            try:
                if os.readlink(f"/proc/{pid}/root") == root:
                    pids.append(int(pid))
            except OSError:
                pass
    return pids


class Moto:
    """moto's server (S3 + SQS, SigV4 verified) on loopback, from Tests/fixtures."""

    def __init__(self, bucket="proximadb"):
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "fixtures", "moto_server.py"), bucket],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("moto did not start")
        self.info = json.loads(line)
        self.endpoint = self.info["endpoint"]
        self.bucket = bucket

    def env(self):
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.info["access_key_id"],
                "AWS_SECRET_ACCESS_KEY": self.info["secret_access_key"], "AWS_REGION": "us-east-1"}

    def client(self, service):
        import boto3
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.info["access_key_id"], aws_secret_access_key=self.info["secret_access_key"])

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def jobs_queue(moto, name="proximadb-jobs", max_receives=2):
    """The jobs queue with its dead-letter queue and redrive policy, as infra/template.yaml makes them."""
    sqs = moto.client("sqs")
    dead = sqs.create_queue(QueueName=name + "-dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "900",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(max_receives)})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn, dead


def drive_queue(sqs, url, arn, worker, rounds=100, wait_s=1):
    """Plays Lambda's SQS event source mapping: receive a batch, hand it to the
    worker as an SQS event, delete what it did not report as failed (the failed
    ones come back after their visibility timeout). Returns (batches, failures)."""
    batches, failed = 0, []
    for _ in range(rounds):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s,
                                  AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
        if not got:
            return batches, failed
        batches += 1
        answer, _ = worker.invoke(sqs_event(got, arn))
        bad = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        failed += [m for m in got if m["MessageId"] in bad]
        done = [m for m in got if m["MessageId"] not in bad]
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
    return batches, failed
