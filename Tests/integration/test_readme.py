"""Every curl example in the README works as written, against `serve` on its default port."""
import os
import re
import shlex
import socket
import subprocess

from conftest import ROOT, Server


def readme_curl_commands():
    text = open(os.path.join(ROOT, "README.md")).read()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        if "curl" not in block or "proximadb keys" in block:
            continue
        current = ""
        for line in block.splitlines():
            if line.strip().startswith("#") and not current:
                continue
            current += line + "\n"
            if not line.endswith("\\") and not _open_quote(current):
                if current.strip():
                    commands.append(current.strip())
                current = ""
    return commands


def _open_quote(s):
    try:
        shlex.split(s)
        return False
    except ValueError:
        return True


def test_readme_curl_examples(data_dir):
    commands = readme_curl_commands()
    assert len(commands) >= 12
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 5678)) != 0, "port 5678 is busy: the README examples need it"
    server = Server(data_dir, port=5678)
    try:
        outputs = []
        for cmd in commands:
            proc = subprocess.run(["bash", "-c", cmd.replace("curl -s", "curl -s -w '\\n%{http_code}'")],
                                  capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0, (cmd, proc.stderr)
            body, status = proc.stdout.rsplit("\n", 1)
            assert status in ("200", "201"), (cmd, status, body)
            assert '"success":true' in body, (cmd, body)
            outputs.append(body)
        search = outputs[2]
        assert '"id":"heat"' in search and '"alien"' not in search
    finally:
        server.stop()


def test_readme_access_block(tmp_path):
    """The README's key walk-through, run as one script from a fresh folder with
    the server it talks to already running on the same store."""
    text = open(os.path.join(ROOT, "README.md")).read()
    block = next(b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if "proximadb keys create" in b)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 5678)) != 0, "port 5678 is busy: the README examples need it"
    server = Server(str(tmp_path / "proximadb-data"), port=5678)
    bindir = os.path.dirname(os.path.abspath(os.environ.get("PROXIMADB_BIN") or os.path.join(ROOT, ".build", "debug", "proximadb")))
    try:
        script = "set -euo pipefail\n" + block.replace("curl -s", "curl -sf")
        proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PATH": bindir + os.pathsep + os.environ["PATH"]})
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        assert '"role":"write"' in proc.stdout and '"tenant":"acme"' in proc.stdout
        # Once a key exists, the same request without one is refused.
        assert server.request("GET", "/collections").status_code == 401
    finally:
        server.stop()
