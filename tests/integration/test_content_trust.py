"""Signed pushes checked by tools slim did not write: skopeo and Podman (Debian's) under a `signedBy` policy for
the GPG simple signatures; plain registry API calls, `openssl` and `cryptography` for the Sigstore signature
and the attestations (Debian builds skopeo and Podman with sigstore support removed). The registry is Debian's
docker-registry on 127.0.0.1; policy, registries.d and the GPG home are temporary, never the machine's."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.conftest import registry_tags, sample_spec
from tests.schemas import validate

pytestmark = pytest.mark.docker
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "vulns")
GRYPE_REPORT = os.path.join(FIXTURES, "python-web.grype.json")
PASSWORD = {"SLIM_KEY_PASSWORD": "test password"}
MANIFESTS = ("application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")


def slim(*args: str, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slim", *args], capture_output=True, text=True, cwd=str(cwd),
                          timeout=600, env={**os.environ, **(env or {})})


def run(*argv: str, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
                          **kw)


def http(method: str, url: str, data: bytes | None = None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return resp.read(), resp.headers


@pytest.fixture(scope="module")
def gnupg(tmp_path_factory):
    """A throwaway GPG home with two signing keys: the one slim signs with, and another."""
    home = tmp_path_factory.mktemp("gnupg")
    os.chmod(home, 0o700)
    env = {"GNUPGHOME": str(home)}
    fingerprints = []
    for who in ("signer", "stranger"):
        done = run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", f"slim {who} <{who}@test.invalid>",
                   "ed25519", "sign", "never", env=env)
        assert done.returncode == 0, done.stderr
        listing = run("gpg", "--batch", "--with-colons", "--list-keys", f"{who}@test.invalid", env=env).stdout
        fingerprints.append(next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr")))
    public = home / "signer.gpg"
    assert run("gpg", "--batch", "--output", str(public), "--export", fingerprints[0], env=env).returncode == 0
    try:
        yield SimpleNamespace(env=env, fingerprint=fingerprints[0], stranger=fingerprints[1], public=str(public))
    finally:
        run("gpgconf", "--kill", "all", env=env)  # the agent the key generation started


@pytest.fixture(scope="module")
def signed(engine, registry, build_sample, gnupg, tmp_path_factory):
    """python-web slimmed, pushed and signed in both formats, with the Grype fixture report mapped."""
    work = tmp_path_factory.mktemp("signed")
    for name in ("cosign", "other"):
        assert slim("keygen", str(work / name), cwd=work, env=PASSWORD).returncode == 0
    image = build_sample("python-web")
    target = f"{registry}/slim/python-web:signed"
    done = slim("build", image, "-t", target, *sample_spec("python-web")["args"], "--env", "SLIM_TEST_TOKEN=s3cret",
                "--push", "--sign-key", str(work / "cosign.key"), "--sign-by", gnupg.fingerprint,
                "--signature-dir", str(work / "sigs"), "--vulns", GRYPE_REPORT, "--report", str(work / "r.json"),
                "--summary", str(work / "summary.md"), cwd=work, env={**PASSWORD, **gnupg.env})
    try:
        assert done.returncode == 0, done.stderr
        _, headers = http("HEAD", f"http://{registry}/v2/slim/python-web/manifests/signed",
                          headers={"Accept": MANIFESTS})
        yield SimpleNamespace(work=work, image=image, target=target, registry=registry, done=done,
                              digest=headers["Docker-Content-Digest"],
                              report=json.loads((work / "r.json").read_text()),
                              summary=(work / "summary.md").read_text())
    finally:
        engine.images.remove(target, force=True)


def _policy(signed, gnupg, tmp_path):
    out = tmp_path / "policy"
    done = slim("policy", "--registry", signed.registry, "--gpg-key", gnupg.public, "--lookaside",
                str(signed.work / "sigs"), "--output-dir", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return out


def _skopeo_copy(policy_dir, ref: str, tmp_path) -> subprocess.CompletedProcess:
    dest = tmp_path / f"copy-{len(os.listdir(tmp_path))}"
    return run("skopeo", "--policy", str(policy_dir / "policy.json"), "--registries.d",
               str(policy_dir / "registries.d"), "copy", "--src-tls-verify=false", f"docker://{ref}", f"dir:{dest}")


def test_the_python_web_summary_shows_vulnerabilities_before_and_after(signed):
    line = "vulnerabilities: critical 1 → 1, high 6 → 3, medium 4 → 0, low 1 → 0, negligible 3 → 1 " \
           "(10 of 15 findings removed)"
    assert f"- {line}\n" in signed.summary
    assert line in signed.done.stdout  # the terminal summary too
    report = validate("build", signed.report)  # docs/schemas/slim.build-1.schema.json
    assert list(report)[-2:] == ["vulnerabilities", "signatures"]  # new keys after the recorded ones
    remaining = {(r["id"], r["package"]): r for r in report["vulnerabilities"]["remaining"]}
    # the file as the trimmed package database names it (merged /usr: /lib is /usr/lib)
    assert remaining[("CVE-2023-45853", "zlib1g")]["kept_path"] == "/lib/x86_64-linux-gnu/libz.so.1.2.13"
    assert remaining[("CVE-2025-8194", "python")]["kept_path"] == "/usr/bin/python3.11"
    assert ("CVE-2023-31484", "perl-base") in {(r["id"], r["package"]) for r in report["vulnerabilities"]["removed"]}
    [record] = report["signatures"]
    assert record["signed"] is True and record["digest"] == signed.digest
    assert f"- signature of `{signed.target}`: signed" in signed.summary


def test_the_gpg_signed_push_is_accepted_by_skopeo_and_podman(signed, gnupg, tmp_path):
    policy = _policy(signed, gnupg, tmp_path)
    copied = _skopeo_copy(policy, signed.target, tmp_path)
    assert copied.returncode == 0, copied.stderr
    verified = slim("verify-signature", signed.target, "--gpg-key", gnupg.public, "--registries.d",
                    str(policy / "registries.d"), cwd=tmp_path)  # the store found as the containers tools find it
    assert verified.returncode == 0 and gnupg.fingerprint in verified.stdout, verified.stderr
    home = tmp_path / "home"  # Podman reads registries.d from $HOME/.config/containers before /etc/containers
    (home / ".config" / "containers").mkdir(parents=True)
    os.symlink(policy / "registries.d", home / ".config" / "containers" / "registries.d")
    pulled = run("podman", "pull", "--signature-policy", str(policy / "policy.json"), "--tls-verify=false",
                 signed.target, env={"HOME": str(home)})
    try:
        assert pulled.returncode == 0, pulled.stderr
    finally:
        run("podman", "rmi", "--force", signed.target)


def test_unsigned_overwritten_and_foreign_signed_images_are_refused(signed, gnupg, engine, tmp_path, monkeypatch):
    from slim.sign.push import SignPlan, sign_pushed

    policy = _policy(signed, gnupg, tmp_path)
    other = f"{signed.registry}/slim/python-web:other"
    engine.images.get("slim-base/alpine:3.20").tag(other)
    try:
        engine.images.push(other)
        refused = _skopeo_copy(policy, other, tmp_path)
        assert refused.returncode != 0 and "A signature was required, but no signature exists" in refused.stderr
        monkeypatch.setenv("GNUPGHOME", gnupg.env["GNUPGHOME"])
        image_id = engine.images.get(other).id
        plan = dict(signature_dir=str(signed.work / "sigs"))
        sign_pushed(other, image_id, SignPlan(gpg_fingerprint=gnupg.stranger, **plan), None)
        refused = _skopeo_copy(policy, other, tmp_path)
        assert refused.returncode != 0 and "Source image rejected" in refused.stderr  # another key's signature
        sign_pushed(other, image_id, SignPlan(gpg_fingerprint=gnupg.fingerprint, **plan), None)
        assert _skopeo_copy(policy, other, tmp_path).returncode == 0  # now signed by the trusted key
        engine.images.get("slim-base/debian:bookworm").tag(other)
        engine.images.push(other)  # pushed over the signed tag: the signature names the old digest
        refused = _skopeo_copy(policy, other, tmp_path)
        assert refused.returncode != 0 and "A signature was required, but no signature exists" in refused.stderr
        bad = slim("verify-signature", other, "--gpg-key", gnupg.public, "--signature-dir",
                   str(signed.work / "sigs"), cwd=tmp_path)
        assert bad.returncode == 20, bad.stderr
    finally:
        engine.images.remove(other, force=True)
    good = slim("verify-signature", signed.target, "--gpg-key", gnupg.public, "--signature-dir",
                str(signed.work / "sigs"), cwd=tmp_path)
    assert good.returncode == 0 and gnupg.fingerprint in good.stdout


def _sig_manifest(signed) -> tuple[bytes, dict]:
    tag = signed.digest.replace(":", "-") + ".sig"
    body, _ = http("GET", f"http://{signed.registry}/v2/slim/python-web/manifests/{tag}", headers={"Accept": MANIFESTS})
    return body, json.loads(body)


def test_the_sigstore_signature_checks_out_without_slim(signed, tmp_path):
    _, manifest = _sig_manifest(signed)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    payload, _ = http("GET", f"http://{signed.registry}/v2/slim/python-web/blobs/{layer['digest']}")
    assert "sha256:" + hashlib.sha256(payload).hexdigest() == layer["digest"] and len(payload) == layer["size"]
    critical = json.loads(payload)["critical"]
    assert critical == {"identity": {"docker-reference": f"{signed.registry}/slim/python-web"},
                        "image": {"docker-manifest-digest": signed.digest},
                        "type": "cosign container image signature"}
    (tmp_path / "payload").write_bytes(payload)
    (tmp_path / "sig").write_bytes(base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"]))
    checked = run("openssl", "dgst", "-sha256", "-verify", str(signed.work / "cosign.pub"), "-signature",
                  str(tmp_path / "sig"), str(tmp_path / "payload"))
    assert checked.returncode == 0 and "Verified OK" in checked.stdout
    (tmp_path / "payload").write_bytes(payload.replace(b'"critical"', b'"critical" '))
    assert run("openssl", "dgst", "-sha256", "-verify", str(signed.work / "cosign.pub"), "-signature",
               str(tmp_path / "sig"), str(tmp_path / "payload")).returncode != 0


def test_slim_verify_signature_refuses_another_key_and_a_tampered_payload(signed, tmp_path):
    good = slim("verify-signature", signed.target, "--key", str(signed.work / "cosign.pub"), cwd=tmp_path)
    assert good.returncode == 0 and signed.digest in good.stdout
    other = slim("verify-signature", signed.target, "--key", str(signed.work / "other.pub"), cwd=tmp_path)
    assert other.returncode == 20 and "does not match the key" in other.stderr
    original, manifest = _sig_manifest(signed)
    base = f"http://{signed.registry}/v2/slim/python-web"
    payload, _ = http("GET", f"{base}/blobs/{manifest['layers'][0]['digest']}")
    forged = payload.replace(b"cosign container image signature", b"cosign container image signaturE")
    manifest["layers"][0].update(digest=_upload(base, forged), size=len(forged))
    tag = signed.digest.replace(":", "-") + ".sig"
    http("PUT", f"{base}/manifests/{tag}", json.dumps(manifest).encode(), {"Content-Type": manifest["mediaType"]})
    try:
        tampered = slim("verify-signature", signed.target, "--key", str(signed.work / "cosign.pub"), cwd=tmp_path)
        assert tampered.returncode == 20 and "does not match the key" in tampered.stderr
    finally:
        http("PUT", f"{base}/manifests/{tag}", original, {"Content-Type": manifest["mediaType"]})


def _upload(base: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, headers = http("POST", f"{base}/blobs/uploads/", b"")
    location = headers["Location"]
    location = location if location.startswith("http") else base.split("/v2/")[0] + location
    http("PUT", f"{location}{'&' if '?' in location else '?'}digest={digest}", data,
         {"Content-Type": "application/octet-stream"})
    return digest


def test_attestations_name_the_pushed_digest_and_a_tampered_one_fails(signed, engine, tmp_path):
    done = slim("attestations", signed.target, "--key", str(signed.work / "cosign.pub"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    statements = {s["predicateType"]: s for s in json.loads(done.stdout)}
    assert set(statements) == {"https://cyclonedx.org/bom", "https://slsa.dev/provenance/v1"}
    for statement in statements.values():
        assert statement["subject"] == [{"name": f"{signed.registry}/slim/python-web",
                                         "digest": {"sha256": signed.digest.split(":")[1]}}]
    provenance = statements["https://slsa.dev/provenance/v1"]["predicate"]
    [original] = provenance["buildDefinition"]["resolvedDependencies"]
    assert "sha256:" + original["digest"]["sha256"] == engine.images.get(signed.image).id
    assert provenance["buildDefinition"]["externalParameters"]["options"]["env"] == ["SLIM_TEST_TOKEN=..."]
    assert "s3cret" not in done.stdout  # published beside the image: environment values stay out
    results = {b["name"]: b["annotations"] for b in provenance["runDetails"]["byproducts"]}
    assert results["verification"]["passed"] is True and results["hardening"]["verified"] is True
    # the envelope checked without slim: ECDSA over DSSE's pre-authentication encoding
    tag = signed.digest.replace(":", "-") + ".att"
    base = f"http://{signed.registry}/v2/slim/python-web"
    original_manifest, _ = http("GET", f"{base}/manifests/{tag}", headers={"Accept": MANIFESTS})
    manifest = json.loads(original_manifest)
    envelope = json.loads(http("GET", f"{base}/blobs/{manifest['layers'][0]['digest']}")[0])
    body = base64.b64decode(envelope["payload"])
    pae = b"DSSEv1 %d %s %d %s" % (len(envelope["payloadType"]), envelope["payloadType"].encode(), len(body), body)
    public = serialization.load_pem_public_key((signed.work / "cosign.pub").read_bytes())
    public.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))
    forged = json.loads(body)
    forged["subject"][0]["digest"]["sha256"] = "0" * 64
    envelope["payload"] = base64.b64encode(json.dumps(forged).encode()).decode()
    blob = json.dumps(envelope).encode()
    manifest["layers"][0].update(digest=_upload(base, blob), size=len(blob))
    http("PUT", f"{base}/manifests/{tag}", json.dumps(manifest).encode(), {"Content-Type": manifest["mediaType"]})
    try:
        tampered = slim("attestations", signed.target, "--key", str(signed.work / "cosign.pub"), cwd=tmp_path)
        assert tampered.returncode == 20 and "does not match the key" in tampered.stderr
    finally:
        http("PUT", f"{base}/manifests/{tag}", original_manifest, {"Content-Type": manifest["mediaType"]})
    other = slim("attestations", signed.target, "--key", str(signed.work / "other.pub"), cwd=tmp_path)
    assert other.returncode == 20


def test_slim_vulns_maps_the_report_onto_the_slim_image_and_gates(signed, tmp_path):
    done = slim("vulns", GRYPE_REPORT, signed.target, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["after"] == signed.report["vulnerabilities"]["after"]
    gated = slim("vulns", GRYPE_REPORT, signed.target, "--max-vulns", "critical=0", cwd=tmp_path)
    assert gated.returncode == 18 and "findings of severity critical: 1 remaining" in gated.stderr


def test_a_signing_failure_leaves_the_tag_pushed_and_reported_unsigned(engine, registry, build_sample, gnupg,
                                                                       tmp_path, no_leftovers):
    image = build_sample("alpine-script")
    target = f"{registry}/slim/alpine-script:unsigned"
    done = slim("build", image, "-t", target, "--push", "--sign-by", "0" * 40, "--signature-dir",
                str(tmp_path / "sigs"), "--report", str(tmp_path / "r.json"), "--summary", str(tmp_path / "s.md"),
                cwd=tmp_path, env=gnupg.env)
    try:
        assert done.returncode == 19, done.stderr
        assert done.stderr.strip().splitlines()[-1].startswith(f"slim: error: {target} was pushed but not signed: ")
        assert registry_tags(registry, "slim/alpine-script") == ["unsigned"]
        [record] = validate("build", json.loads((tmp_path / "r.json").read_text()))["signatures"]
        assert record["signed"] is False and "gpg could not sign" in record["error"]
        assert f"- signature of `{target}`: **unsigned**" in (tmp_path / "s.md").read_text()
    finally:
        engine.images.remove(target, force=True)
