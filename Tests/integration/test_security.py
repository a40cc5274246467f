"""Attacks through HTTP on a server with API keys and JWTs: none succeeds,
each gets the right 401 / 403 / 404, and nothing stored changes."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from conftest import SECRETS, LocalHTTP, Server, binary, create_key

ISSUER, AUDIENCE = "https://issuer.test", "proximadb"


class Issuer:
    """An identity provider: RS256, ES256 and EdDSA keys, their JWKS, and tokens."""

    def __init__(self):
        self.keys = {
            "rs": ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
            "ec": ("ES256", ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
            "ed": ("EdDSA", ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm),
        }

    def jwks(self):
        keys = []
        for kid, (alg, key, algorithm) in self.keys.items():
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            jwk.update(kid=kid, alg=alg, use="sig")
            keys.append(jwk)
        return {"keys": keys}

    def token(self, kid="ec", **claims):
        alg, key, _ = self.keys[kid]
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "iat": now, "sub": "user-1", "tenant": "a",
                "scope": "proximadb:write"}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        token = pyjwt.encode(body, key, algorithm=alg, headers={"kid": kid})
        SECRETS.add(token)
        return token


def b64(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def snapshot(root):
    """Every stored object's bytes, by path: what the attacks must not change."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def world():
    """Tenants a and b with collections and vectors, keys of every kind, a JWT issuer."""
    data = tempfile.mkdtemp(prefix="proximadb-sec-")
    issuer = Issuer()
    jwks = data + "-jwks.json"
    with open(jwks, "w") as f:
        json.dump(issuer.jwks(), f)
    k = {
        "admin_a": create_key(data, "a", "admin"), "write_a": create_key(data, "a", "write"),
        "read_a": create_key(data, "a", "read"), "docs_a": create_key(data, "a", "write", ["--collections", "docs_*"]),
        "docs_admin_a": create_key(data, "a", "admin", ["--collections", "docs_*"]),
        "admin_b": create_key(data, "b", "admin"), "revoked_a": create_key(data, "a", "admin"),
        "expired_a": create_key(data, "a", "admin", ["--expires-in", "1s"]),
    }
    storage = f"file://{data}"
    subprocess.run([binary(), "keys", "revoke", "--storage", storage, k["revoked_a"]], check=True, capture_output=True)
    server = Server(data, log_level="debug", extra=[
        "--queue", "inline", "--jwt-jwks", jwks, "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE])

    def call(key, method, path, body=None, headers=None):
        h = {"Authorization": f"Bearer {key}"} if key else {}
        h.update(headers or {})
        return requests.request(method, server.url + path, json=body, headers=h, timeout=60)

    for tenant, admin in (("a", k["admin_a"]), ("b", k["admin_b"])):
        names = ["docs_1", "other"] if tenant == "a" else ["secret_b", "docs_1"]
        for name in names:
            r = call(admin, "POST", "/collections", {"name": name, "dimension": 3, "filterable_fields": [{"name": "t", "type": "string"}]})
            assert r.status_code == 201, r.text
            vectors = [{"id": f"{tenant}-{name}-{i}", "vector": [i, 1, 2], "metadata": {"t": tenant}} for i in range(5)]
            r = call(admin, "POST", f"/collections/{name}/vectors", {"vectors": vectors})
            assert r.status_code == 200, r.text
    time.sleep(1.1)  # the 1 s key has expired
    yield {"data": data, "server": server, "keys": k, "issuer": issuer, "call": call}
    server.stop()
    shutil.rmtree(data, ignore_errors=True)
    os.remove(jwks)


def forged_secret(key):
    """The right key id with another secret."""
    return key[:-1] + ("A" if key[-1] != "A" else "B")


# (name, credential, method, path, body, extra headers, status, code). A credential is
# a key name, or a callable of the world returning a token.
ATTACKS = [
    ("no credential lists", None, "GET", "/collections", None, None, 401, "unauthorized"),
    ("no credential creates", None, "POST", "/collections", {"name": "x", "dimension": 3}, None, 401, "unauthorized"),
    ("no credential searches", None, "POST", "/collections/docs_1/search", {"vector": [1, 1, 1]}, None, 401, "unauthorized"),
    ("no credential reads metrics", None, "GET", "/metrics", None, None, 401, "unauthorized"),
    ("no credential lists keys", None, "GET", "/keys", None, None, 401, "unauthorized"),
    ("unknown key", lambda w: "pdb_0123456789abcdef_" + "x" * 43, "GET", "/collections", None, None, 401, "unauthorized"),
    ("garbage bearer", lambda w: "garbage", "GET", "/collections", None, None, 401, "unauthorized"),
    ("basic auth", None, "GET", "/collections", None, {"Authorization": "Basic YTpi"}, 401, "unauthorized"),
    ("wrong X-API-Key", None, "GET", "/collections", None, {"X-API-Key": "pdb_0123456789abcdef_" + "y" * 43}, 401, "unauthorized"),
    ("right id, wrong secret", lambda w: forged_secret(w["keys"]["admin_a"]), "GET", "/collections", None, None, 401, "unauthorized"),
    ("revoked key", "revoked_a", "GET", "/collections", None, None, 401, "unauthorized"),
    ("expired key", "expired_a", "GET", "/collections", None, None, 401, "unauthorized"),
    ("expired JWT", lambda w: w["issuer"].token(exp=int(time.time()) - 3600), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT not valid yet", lambda w: w["issuer"].token(nbf=int(time.time()) + 3600), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT without exp", lambda w: w["issuer"].token(exp=None), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT alg none", lambda w: b64(b'{"alg":"none","typ":"JWT"}') + "." + w["issuer"].token().split(".")[1] + ".",
     "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT signed by another key", lambda w: Issuer().token(), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT with tampered tenant", lambda w: tamper(w["issuer"].token(), tenant="b"), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT with tampered scope", lambda w: tamper(w["issuer"].token(scope="proximadb:read"), scope="proximadb:admin"),
     "POST", "/collections", {"name": "x", "dimension": 3}, None, 401, "unauthorized"),
    ("JWT for another audience", lambda w: w["issuer"].token(aud="someone-else"), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT from another issuer", lambda w: w["issuer"].token(iss="https://evil.test"), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT HS256 keyed with the public JWKS", lambda w: hmac_token(w), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT with an unknown kid", lambda w: unknown_kid(w), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT naming no tenant", lambda w: w["issuer"].token(tenant=None), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT naming a hostile tenant", lambda w: w["issuer"].token(tenant="../b"), "GET", "/collections", None, None, 401, "unauthorized"),
    ("JWT without a proximadb scope", lambda w: w["issuer"].token(scope="openid email"), "GET", "/collections", None, None, 403, "forbidden"),
    ("JWT read scope inserting", lambda w: w["issuer"].token(scope="proximadb:read"), "POST", "/collections/docs_1/vectors",
     {"vectors": [{"id": "j", "vector": [1, 2, 3]}]}, None, 403, "forbidden"),
    ("JWT of tenant a reading b's collection", lambda w: w["issuer"].token(kid="rs"), "GET", "/collections/secret_b", None, None, 404,
     "collection_not_found"),
    ("a reads b's collection", "admin_a", "GET", "/collections/secret_b", None, None, 404, "collection_not_found"),
    ("a searches b's collection", "admin_a", "POST", "/collections/secret_b/search", {"vector": [1, 1, 1]}, None, 404, "collection_not_found"),
    ("a inserts into b's collection", "admin_a", "POST", "/collections/secret_b/vectors", {"vectors": [{"id": "x", "vector": [1, 2, 3]}]},
     None, 404, "collection_not_found"),
    ("a gets b's vector by id", "admin_a", "GET", "/collections/secret_b/vectors/b-secret_b-1", None, None, 404, "collection_not_found"),
    ("a gets b's vector through a same-named collection", "admin_a", "GET", "/collections/docs_1/vectors/b-docs_1-1", None, None, 404,
     "vector_not_found"),
    ("a deletes b's vectors by filter", "admin_a", "POST", "/collections/secret_b/vectors/delete", {"filter": {"t": "b"}}, None, 404,
     "collection_not_found"),
    ("a deletes b's collection", "admin_a", "DELETE", "/collections/secret_b", None, None, 404, "collection_not_found"),
    ("a flushes b's collection", "admin_a", "POST", "/collections/secret_b/flush", None, None, 404, "collection_not_found"),
    ("a names b through an encoded path", "admin_a", "GET", "/collections/..%2Fb%2Fsecret_b", None, None, 400, "invalid_name"),
    ("a names b through dot segments", "admin_a", "GET", "/collections/%2e%2e/b/secret_b", None, None, 404, "not_found"),
    ("a names b through a tenant header", "admin_a", "GET", "/collections/secret_b", None, {"X-Tenant": "b"}, 404, "collection_not_found"),
    ("a names b through a query parameter", "admin_a", "GET", "/collections/secret_b?tenant=b", None, None, 404, "collection_not_found"),
    ("b revokes a's key", "admin_b", "DELETE", lambda w: "/keys/" + w["keys"]["read_a"][4:20], None, None, 404, "not_found"),
    ("read role inserts", "read_a", "POST", "/collections/docs_1/vectors", {"vectors": [{"id": "r", "vector": [1, 2, 3]}]}, None, 403, "forbidden"),
    ("read role updates", "read_a", "PUT", "/collections/docs_1/vectors/a-docs_1-1", {"vector": [9, 9, 9]}, None, 403, "forbidden"),
    ("read role deletes a vector", "read_a", "DELETE", "/collections/docs_1/vectors/a-docs_1-1", None, None, 403, "forbidden"),
    ("read role deletes by filter", "read_a", "POST", "/collections/docs_1/vectors/delete", {"filter": {"t": "a"}}, None, 403, "forbidden"),
    ("read role creates a key", "read_a", "POST", "/keys", {"role": "admin"}, None, 403, "forbidden"),
    ("a key living past Int64 microseconds", "admin_a", "POST", "/keys", {"role": "read", "expires_in_seconds": 548735942308431},
     None, 400, "invalid_request"),
    ("write role creates a collection", "write_a", "POST", "/collections", {"name": "x", "dimension": 3}, None, 403, "forbidden"),
    ("write role drops a collection", "write_a", "DELETE", "/collections/docs_1", None, None, 403, "forbidden"),
    ("write role changes a collection", "write_a", "PATCH", "/collections/docs_1", {"description": "x"}, None, 403, "forbidden"),
    ("write role creates a key", "write_a", "POST", "/keys", {"role": "admin"}, None, 403, "forbidden"),
    ("write role lists keys", "write_a", "GET", "/keys", None, None, 403, "forbidden"),
    ("write role compacts", "write_a", "POST", "/collections/docs_1/compact", None, None, 403, "forbidden"),
    ("docs_* key reads other", "docs_a", "GET", "/collections/other", None, None, 403, "forbidden"),
    ("docs_* key searches other", "docs_a", "POST", "/collections/other/search", {"vector": [1, 1, 1]}, None, 403, "forbidden"),
    ("docs_* key inserts into other", "docs_a", "POST", "/collections/other/vectors", {"vectors": [{"id": "d", "vector": [1, 2, 3]}]},
     None, 403, "forbidden"),
    ("docs_* key deletes other by filter", "docs_a", "POST", "/collections/other/vectors/delete", {"filter": {"t": "a"}}, None, 403, "forbidden"),
    ("docs_* admin creates other", "docs_admin_a", "POST", "/collections", {"name": "other2", "dimension": 3}, None, 403, "forbidden"),
    ("docs_* admin drops other", "docs_admin_a", "DELETE", "/collections/other", None, None, 403, "forbidden"),
    ("docs_* admin creates a key", "docs_admin_a", "POST", "/keys", {"role": "admin"}, None, 403, "forbidden"),
]


def tamper(token, **claims):
    head, body, sig = token.split(".")
    import base64
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(claims)
    return head + "." + b64(json.dumps(payload).encode()) + "." + sig


def hmac_token(world):
    """The classic confusion: HS256 with the issuer's public key (PEM) as the secret."""
    _, key, _ = world["issuer"].keys["rs"]
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    import hmac
    import hashlib as h
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rs"}).encode())
    body = world["issuer"].token(kid="rs").split(".")[1]
    sig = hmac.new(pem, f"{head}.{body}".encode(), h.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def unknown_kid(world):
    other = Issuer()
    _, key, _ = other.keys["ec"]
    return pyjwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600, "tenant": "a", "scope": "proximadb:admin"},
                        key, algorithm="ES256", headers={"kid": "never-published"})


@pytest.fixture(scope="module")
def before(world):
    return snapshot(world["data"])


@pytest.mark.parametrize("attack", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_fails(world, before, attack):
    name, credential, method, path, body, headers, status, code = attack
    key = credential(world) if callable(credential) else (world["keys"][credential] if credential else None)
    path = path(world) if callable(path) else path
    r = world["call"](key, method, path, body, headers)
    assert r.status_code == status, (name, r.status_code, r.text)
    assert r.json()["error"] == code, (name, r.text)
    if status == 401:
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
    assert r.headers.get("X-Request-Id")


def test_there_are_at_least_forty_attacks():
    assert len(ATTACKS) >= 40


def test_nothing_stored_changed(world, before):
    assert snapshot(world["data"]) == before


def test_credentials_do_what_their_role_allows(world, before):
    call, k = world["call"], world["keys"]
    # Listing shows a tenant its own collections only, and a pattern-limited key only what matches.
    assert sorted(c["name"] for c in call(k["admin_a"], "GET", "/collections").json()["data"]) == ["docs_1", "other"]
    assert sorted(c["name"] for c in call(k["admin_b"], "GET", "/collections").json()["data"]) == ["docs_1", "secret_b"]
    assert [c["name"] for c in call(k["docs_a"], "GET", "/collections").json()["data"]] == ["docs_1"]
    # Same collection name, separate data: a's docs_1 holds a's vectors only.
    hits = call(k["read_a"], "POST", "/collections/docs_1/search", {"vector": [1, 1, 2], "k": 10}).json()["data"]["results"]
    assert hits and all(h["id"].startswith("a-") for h in hits)
    # A JWT's tenant and scope are honoured: tenant b reads b's collection; read scope reads.
    r = call(world["issuer"].token(kid="ed", tenant="b", scope="proximadb:read"), "GET", "/collections/secret_b")
    assert r.status_code == 200 and r.json()["data"]["vector_count"] == 5, r.text
    # X-API-Key works as well as the bearer header.
    r = requests.get(world["server"].url + "/collections", headers={"X-API-Key": k["read_a"]}, timeout=30)
    assert r.status_code == 200
    # Health and readiness stay open (no --require-auth-for-health).
    assert requests.get(world["server"].url + "/health", timeout=30).status_code == 200
    assert requests.get(world["server"].url + "/ready", timeout=30).json()["data"]["status"] == "ready"


def test_keys_over_http_and_revocation_within_five_seconds(world, before):
    call, k = world["call"], world["keys"]
    r = call(k["admin_a"], "POST", "/keys", {"role": "read", "collections": "docs_*", "expires_in_seconds": 3600})
    assert r.status_code == 201, r.text
    created = r.json()["data"]
    SECRETS.add(created["key"])
    assert created["tenant"] == "a" and created["role"] == "read" and "sha256" not in created
    listed = call(k["admin_a"], "GET", "/keys").json()["data"]
    assert created["id"] in [x["id"] for x in listed] and all(x["tenant"] == "a" for x in listed)
    assert not any("key" in x or "sha256" in x for x in listed)
    assert call(created["key"], "GET", "/collections/docs_1").status_code == 200
    # Revoked by the CLI (straight on the store, as another process): refused within 5 s.
    subprocess.run([binary(), "keys", "revoke", "--storage", f"file://{world['data']}", created["id"]], check=True, capture_output=True)
    start = time.time()
    while call(created["key"], "GET", "/collections/docs_1").status_code == 200:
        assert time.time() - start < 5, "a revoked key still worked after 5 s"
        time.sleep(0.1)
    # The CLI never prints secrets when listing.
    out = subprocess.run([binary(), "keys", "list", "--storage", f"file://{world['data']}"], capture_output=True, text=True, check=True)
    assert all(secret not in out.stdout for secret in k.values()) and created["id"] in out.stdout


def test_require_auth_for_health_and_loopback_default(tmp_path):
    key = create_key(str(tmp_path), "a", "read")
    s = Server(str(tmp_path), extra=["--require-auth-for-health"])
    try:
        assert s.request("GET", "/health").status_code == 401
        assert s.request("GET", "/health", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    finally:
        s.stop()
    # Without keys or JWT, serve refuses a non-loopback address unless told otherwise.
    empty = tmp_path / "empty"
    out = subprocess.run([binary(), "serve", "--storage", f"file://{empty}", "--host", "0.0.0.0", "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "--allow-unauthenticated" in out.stderr, out.stderr


def test_rate_limits_admit_the_configured_rate_and_spare_other_keys(tmp_path):
    noisy, quiet = create_key(str(tmp_path), "a", "admin"), create_key(str(tmp_path), "a", "read")
    rate, burst, seconds = 20, 20, 4
    s = Server(str(tmp_path), extra=["--rate-limit-per-key", f"{rate}:{burst}"])
    try:
        admitted, rejected, quiet_status = [], [], []
        stop = time.time() + seconds

        def hammer():
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {noisy}"
            while time.time() < stop:
                r = session.get(s.url + "/collections", timeout=30)
                if r.status_code == 200:
                    admitted.append(1)
                else:
                    assert r.status_code == 429 and r.json()["error"] == "rate_limited", r.text
                    assert int(r.headers["Retry-After"]) >= 1 and r.headers["RateLimit-Remaining"] == "0"
                    rejected.append(1)

        def steady():
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {quiet}"
            while time.time() < stop:
                quiet_status.append(session.get(s.url + "/collections", timeout=30).status_code)
                time.sleep(0.2)

        start = time.time()
        threads = [threading.Thread(target=hammer) for _ in range(4)] + [threading.Thread(target=steady)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - start
        expected = burst + rate * elapsed
        assert abs(len(admitted) - expected) <= 0.1 * expected, (len(admitted), expected)
        assert rejected, "the loop never went over the limit"
        assert quiet_status and all(st == 200 for st in quiet_status), quiet_status
        metrics = s.request("GET", "/metrics", headers={"Authorization": f"Bearer {quiet}"}).text
        assert f'proximadb_rate_limited_total{{reason="key"}} {len(rejected)}' in metrics
    finally:
        s.stop()


def self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls(tmp_path):
    cert, key_file = self_signed(tmp_path)
    key = create_key(str(tmp_path / "data"), "a", "admin")
    s = Server(str(tmp_path / "data"), extra=["--tls-cert", cert, "--tls-key", key_file], grpc=True)
    try:
        assert s.url.startswith("https://")
        r = requests.get(s.url + "/collections", headers={"Authorization": f"Bearer {key}"}, verify=cert, timeout=30)
        assert r.status_code == 200 and r.json()["success"]
        # gRPC on the same certificate: a client trusting it is answered; a plaintext one is not.
        import grpc
        from test_grpc import pb, pb_grpc
        with open(cert, "rb") as f:
            secure = grpc.secure_channel(s.grpc_target, grpc.ssl_channel_credentials(root_certificates=f.read()))
        listed = pb_grpc.ProximaDbStub(secure).CollectionOperation(
            pb.CollectionRequest(operation=pb.COLLECTION_LIST), metadata=[("authorization", f"Bearer {key}")], timeout=30)
        assert listed.success
        with pytest.raises(grpc.RpcError):
            pb_grpc.ProximaDbStub(grpc.insecure_channel(s.grpc_target)).Health(pb.HealthRequest(), timeout=5)
        secure.close()
        # Plain HTTP to the TLS port gets no answer it could mistake for one.
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(s.url.replace("https://", "http://") + "/health", timeout=5)
        # A client that checks certificates refuses an unknown one.
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(s.url + "/health", timeout=5)
    finally:
        s.stop()


def test_quotas(tmp_path):
    limited = create_key(str(tmp_path), "q", "admin", ["--max-collections", "1", "--max-vectors", "10"])
    unlimited = create_key(str(tmp_path), "r", "admin")
    s = Server(str(tmp_path), extra=["--queue", "inline", "--max-vectors", "1000"])
    try:
        def call(key, method, path, body=None):
            return s.request(method, path, json=body, headers={"Authorization": f"Bearer {key}"})
        assert call(limited, "POST", "/collections", {"name": "one", "dimension": 2}).status_code == 201
        r = call(limited, "POST", "/collections", {"name": "two", "dimension": 2})
        assert r.status_code == 429 and r.json()["error"] == "quota_exceeded", r.text
        vectors = lambda n, start=0: {"vectors": [{"id": str(start + i), "vector": [i, 1]} for i in range(n)]}  # noqa: E731
        assert call(limited, "POST", "/collections/one/vectors", vectors(8)).status_code == 200
        r = call(limited, "POST", "/collections/one/vectors", vectors(3, 100))
        assert r.status_code == 429 and r.json()["error"] == "quota_exceeded", r.text
        assert call(limited, "POST", "/collections/one/vectors", vectors(2, 200)).status_code == 200
        assert s.ok("GET", "/collections/one", headers={"Authorization": f"Bearer {limited}"})["vector_count"] == 10
        # Another tenant has the server's default quota (1000), not this key's.
        assert call(unlimited, "POST", "/collections", {"name": "one", "dimension": 2}).status_code == 201
        assert call(unlimited, "POST", "/collections/one/vectors", vectors(500)).status_code == 200
        r = call(unlimited, "POST", "/collections/one/vectors", vectors(501, 1000))
        assert r.status_code == 429 and r.json()["error"] == "quota_exceeded"
    finally:
        s.stop()


def test_jwks_from_a_url(tmp_path):
    """--jwt-jwks may name an http(s) URL (an identity provider's JWKS endpoint)."""
    issuer = Issuer()
    body = json.dumps(issuer.jwks()).encode()
    idp = LocalHTTP(lambda path, headers: (200, body, "application/json"))
    s = Server(str(tmp_path), extra=["--jwt-jwks", idp.url + "/.well-known/jwks.json",
                                     "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE])
    try:
        token = issuer.token(kid="rs", scope="proximadb:admin")
        r = s.request("POST", "/collections", json={"name": "j", "dimension": 2}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        assert s.request("GET", "/collections").status_code == 401
    finally:
        s.stop()
        idp.stop()
