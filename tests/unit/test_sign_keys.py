"""The cosign key file format, signatures and the documents slim signs (payloads, DSSE, policy files)."""

from __future__ import annotations

import base64
import json

import pytest

from slim.errors import SignatureInvalid, UsageError
from slim.sign import attest, cosign, gpg, keys, policy
from slim.sign.registry import DOCKER_HUB, parse_repo_ref


@pytest.fixture(scope="module")
def pair():
    return keys.generate()


@pytest.fixture(scope="module")
def key_file(pair):
    return keys.encrypt_private(pair, b"correct horse")


def _body(pem: bytes) -> dict:
    lines = pem.decode().strip().splitlines()
    return json.loads(base64.b64decode("".join(lines[1:-1])))


def test_the_private_key_file_is_cosigns_format_and_round_trips(pair, key_file):
    assert key_file.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    assert key_file.endswith(b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    body = _body(key_file)
    assert list(body) == ["kdf", "cipher", "ciphertext"]
    assert body["kdf"]["name"] == "scrypt" and body["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert len(base64.b64decode(body["kdf"]["salt"])) == 32
    assert body["cipher"]["name"] == "nacl/secretbox" and len(base64.b64decode(body["cipher"]["nonce"])) == 24
    back = keys.decrypt_private(key_file, b"correct horse")
    assert keys.public_pem(back.public) == keys.public_pem(pair.public)
    assert keys.load_public(keys.public_pem(pair.public)).public_numbers() == pair.public.public_numbers()


def test_a_wrong_password_is_a_one_line_usage_error(key_file):
    with pytest.raises(UsageError, match="wrong password"):
        keys.decrypt_private(key_file, b"battery staple")


def test_a_changed_ciphertext_does_not_decrypt(key_file):
    body = _body(key_file)
    sealed = bytearray(base64.b64decode(body["ciphertext"]))
    sealed[-1] ^= 1
    body["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    with pytest.raises(UsageError, match="wrong password"):
        keys.decrypt_private(keys._pem(keys.WRITTEN_PEM_TYPE, json.dumps(body).encode()), b"correct horse")


def test_cosign_1_files_are_read_and_hostile_scrypt_parameters_refused(key_file):
    body = _body(key_file)
    old = keys._pem("ENCRYPTED COSIGN PRIVATE KEY", json.dumps(body).encode())
    assert keys.decrypt_private(old, b"correct horse")
    body["kdf"]["params"]["N"] = 2 ** 30  # a gigabyte-sized scrypt: refused before any work
    with pytest.raises(UsageError, match="scrypt parameters"):
        keys.decrypt_private(keys._pem(keys.WRITTEN_PEM_TYPE, json.dumps(body).encode()), b"correct horse")
    with pytest.raises(UsageError, match="not a cosign private key"):
        keys.decrypt_private(keys.public_pem(keys.generate().public), b"x")


def test_signatures_verify_with_their_key_only(pair):
    signature = keys.sign(pair, b"message")
    keys.verify(pair.public, b"message", signature, "test")
    with pytest.raises(SignatureInvalid):
        keys.verify(keys.generate().public, b"message", signature, "test")
    with pytest.raises(SignatureInvalid):
        keys.verify(pair.public, b"messagE", signature, "test")


def test_the_simple_signing_payloads_name_the_repository_and_the_digest():
    ref = parse_repo_ref("127.0.0.1:5000/slim/web:1")
    digest = "sha256:" + "ab" * 32
    assert json.loads(cosign.payload(ref, digest)) == {
        "critical": {"identity": {"docker-reference": "127.0.0.1:5000/slim/web"},
                     "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"},
        "optional": None}
    doc = json.loads(gpg.payload("127.0.0.1:5000/slim/web:1", digest, now=1700000000))
    assert doc["critical"] == {"identity": {"docker-reference": "127.0.0.1:5000/slim/web:1"},
                               "image": {"docker-manifest-digest": digest}, "type": "atomic container signature"}
    assert doc["optional"]["timestamp"] == 1700000000
    assert cosign.sidecar_tag(digest, "sig") == "sha256-" + "ab" * 32 + ".sig"


@pytest.mark.parametrize("text, want", [
    ("127.0.0.1:5000/slim/web:1", ("127.0.0.1:5000", "slim/web", "1", None)),
    ("localhost/web", ("localhost", "web", "latest", None)),
    ("busybox", (DOCKER_HUB, "library/busybox", "latest", None)),
    ("me/app:2", (DOCKER_HUB, "me/app", "2", None)),
    ("reg.example:443/a/b@sha256:" + "0" * 64, ("reg.example:443", "a/b", None, "sha256:" + "0" * 64)),
])
def test_references_split_as_the_registry_api_needs(text, want):
    ref = parse_repo_ref(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == want


@pytest.mark.parametrize("text", ["127.0.0.1:5000/Web:1", "host:1/a//b", "host:1/a@sha256:xyz"])
def test_malformed_references_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_repo_ref(text)


def test_dsse_signs_the_pre_authentication_encoding(pair):
    assert attest.pae("a/b", b"hello") == b"DSSEv1 3 a/b 5 hello"
    ref = parse_repo_ref("127.0.0.1:5000/slim/web:1")
    digest = "sha256:" + "cd" * 32
    statement = attest.statement(ref, digest, attest.SLSA_V1, {"x": 1})
    env = attest.envelope(statement, cosign.KeySigner(pair))
    found = attest._open(env, pair.public, digest, "test")
    assert found.predicate_type == attest.SLSA_V1 and found.statement == statement
    with pytest.raises(SignatureInvalid, match="subject"):
        attest._open(env, pair.public, "sha256:" + "ef" * 32, "test")
    doc = json.loads(env)
    forged = dict(statement, predicate={"x": 2})
    doc["payload"] = base64.b64encode(json.dumps(forged).encode()).decode()
    with pytest.raises(SignatureInvalid, match="does not match the key"):
        attest._open(json.dumps(doc).encode(), pair.public, digest, "test")


def test_policy_files_require_the_signature_for_the_registry_only(tmp_path):
    pub = tmp_path / "k.pub"
    pub.write_text("x")
    doc = json.loads(policy.policy_json("127.0.0.1:5000", str(pub), None))
    assert doc["default"] == [{"type": "insecureAcceptAnything"}]
    assert doc["transports"]["docker"]["127.0.0.1:5000"] == [
        {"type": "sigstoreSigned", "keyPath": str(pub), "signedIdentity": {"type": "matchRepository"}}]
    doc = json.loads(policy.policy_json("127.0.0.1:5000/slim", None, str(pub), reject_others=True))
    assert doc["default"] == [{"type": "reject"}]
    assert doc["transports"]["docker"]["127.0.0.1:5000/slim"] == [
        {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(pub)}]
    assert "lookaside: file://" + str(tmp_path) in policy.registries_d_yaml("h:1", False, str(tmp_path))
    with pytest.raises(UsageError):
        policy.policy_json("https://h", str(pub), None)
    with pytest.raises(UsageError):
        policy.requirement(str(pub), str(pub))


def test_registries_d_names_the_store_of_the_most_specific_scope(tmp_path):
    (tmp_path / "a.yaml").write_text("default-docker:\n  lookaside: file:///default\n"
                                     "docker:\n  h:1:\n    lookaside: file:///host\n"
                                     "  h:1/team:\n    lookaside: file:///team\n    lookaside-staging: file:///stage\n")
    assert gpg.signature_dir_for(parse_repo_ref("h:1/team/app:1"), None, str(tmp_path), write=False) == "/team/team/app"
    assert gpg.signature_dir_for(parse_repo_ref("h:1/team/app:1"), None, str(tmp_path), write=True) == "/stage/team/app"
    assert gpg.signature_dir_for(parse_repo_ref("h:1/other:1"), None, str(tmp_path), write=True) == "/host/other"
    assert gpg.signature_dir_for(parse_repo_ref("h:2/x:1"), None, str(tmp_path), write=False) == "/default/x"
    assert gpg.signature_dir_for(parse_repo_ref("h:2/x:1"), "/given", str(tmp_path), write=True) == "/given/x"
    (tmp_path / "a.yaml").write_text("docker:\n  h:1:\n    lookaside: https://web/sigs\n")
    with pytest.raises(UsageError, match="not a file://"):
        gpg.signature_dir_for(parse_repo_ref("h:1/x:1"), None, str(tmp_path), write=False)


def test_signature_files_are_numbered_from_one(tmp_path):
    digest = "sha256:" + "12" * 32
    base = str(tmp_path / "slim" / "web")
    first, second = gpg.store(base, digest, b"a"), gpg.store(base, digest, b"b")
    assert first.endswith(f"slim/web@sha256={'12' * 32}/signature-1") and second.endswith("/signature-2")
    assert gpg.signatures(base, digest) == [first, second]


def test_the_provenance_never_carries_environment_values():
    assert attest.redacted(["docker", "run", "-e", "TOKEN=s3cret", "--env=A=b=c", "--env", "X", "img"]) == [
        "docker", "run", "-e", "TOKEN=...", "--env=A=...", "--env", "X=...", "img"]
