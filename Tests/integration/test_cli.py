"""The CLI a person uses from a shell, against a running server."""
import json
import subprocess

import numpy as np

from conftest import binary


def cli(server, *args):
    proc = subprocess.run([binary(), *args, "--url", server.url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_cli_end_to_end(server, tmp_path):
    cli(server, "collections", "create", "emb", "--dimension", "8", "--metric", "euclidean", "--field", "kind:string")
    data = np.random.default_rng(3).standard_normal((2500, 8)).astype(np.float32)
    np.save(tmp_path / "emb.npy", data)
    proc = cli(server, "insert", "emb", str(tmp_path / "emb.npy"), "--batch", "1000", "--id-prefix", "row-")
    assert "2500/2500" in proc.stderr  # the progress bar
    with open(tmp_path / "more.jsonl", "w") as f:
        for i in range(10):
            f.write(json.dumps({"id": f"j{i}", "vector": [float(i)] * 8, "metadata": {"kind": "line"}}) + "\n")
    cli(server, "insert", "emb", str(tmp_path / "more.jsonl"))
    assert server.ok("GET", "/collections/emb")["vector_count"] == 2510
    out = cli(server, "search", "emb", "--vector", json.dumps(data[42].tolist()), "--k", "3").stdout
    assert out.splitlines()[0].split("\t")[1] == "row-42"
    out = cli(server, "search", "emb", "--vector", json.dumps([3.0] * 8), "--k", "1", "--filter", '{"kind": "line"}').stdout
    assert out.splitlines()[0].split("\t")[1] == "j3"
    assert "emb" in cli(server, "collections", "list").stdout


def test_cli_reports_errors(server):
    proc = subprocess.run([binary(), "collections", "show", "nope", "--url", server.url], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "collection_not_found" in proc.stderr
