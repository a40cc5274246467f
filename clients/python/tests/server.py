"""`proximadb serve` on a free loopback port, from PROXIMADB_BIN (the
repository's test command sets it) or PATH, for the client's test suites."""
import os
import re
import shutil
import socket
import subprocess
import tempfile


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, extra=(), grpc=False):
        """With `grpc`, the server listens for gRPC too (on a free port) and says so in /health."""
        self.grpc = grpc
        binary = os.environ.get("PROXIMADB_BIN") or shutil.which("proximadb")
        if not binary:
            raise RuntimeError("set PROXIMADB_BIN to a proximadb binary")
        self.data = tempfile.mkdtemp(prefix="proximadb-client-")
        if "--grpc-port" not in extra:
            extra = [*extra, "--grpc-port", str(free_port() if grpc else 0)]
        self.proc = subprocess.Popen([binary, "serve", "--storage", self.data, "--port", "0", "--log-level", "warning", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = None
        for line in self.proc.stdout:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                break
        if not self.url:
            self.stop()
            raise RuntimeError("proximadb serve did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.data, ignore_errors=True)
