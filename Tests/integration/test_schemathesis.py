"""schemathesis against docs/openapi.yaml: no 5xx, no answer that contradicts the schema."""
import os
import subprocess

from conftest import ROOT, Server, create_key


def test_schemathesis_finds_nothing(data_dir):
    # As deployed: an admin key in the store, sent with every request (keys schemathesis creates change nothing then).
    key = create_key(data_dir, "default", "admin")
    server = Server(data_dir, api_key=key)
    # A collection the schema's examples name, so positive examples reach real data.
    server.ok("POST", "/collections", json={"name": "docs", "dimension": 3, "filterable_fields": ["genre"]})
    server.ok("POST", "/collections/docs/vectors", json={"vectors": [{"id": "v1", "vector": [0.1, 0.2, 0.3], "metadata": {"genre": "drama"}}]})
    max_examples = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "150")
    cmd = [
        "schemathesis", "run", os.path.join(ROOT, "docs", "openapi.yaml"), "--url", server.url,
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection",
        "--max-examples", max_examples, "--phases", "examples,coverage,fuzzing", "--workers", "1",
        "--suppress-health-check", "all", "--seed", "1", "--request-timeout", "30", "-H", f"Authorization: Bearer {key}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    finally:
        server.stop()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
