"""Signed attestations of a pushed image: in-toto statements in DSSE envelopes, stored as cosign stores them
(tag `sha256-HEX.att`, one layer per envelope, media type application/vnd.dsse.envelope.v1+json, with a
`predicateType` annotation), so `cosign verify-attestation --type cyclonedx|slsaprovenance1` reads them.

Two predicates: the slim image's CycloneDX SBOM, and SLSA provenance v1 recording what the image was made from
(the original's image ID), by which slim, with which options, and what was proven (probes, verification,
run profile). The DSSE signature covers PAE("application/vnd.in-toto+json", statement), nothing else.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from slim import __version__
from slim.errors import SignatureInvalid
from slim.sign import keys
from slim.sign.cosign import SIGNATURE_ANNOTATION, Signer, attach, sidecar_tag
from slim.sign.registry import Registry, RepoRef

ENVELOPE_TYPE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
CYCLONEDX = "https://cyclonedx.org/bom"
SLSA_V1 = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:slim:build:v1"  # a URI naming how slim builds (the options below are its parameters)


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature is made over."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def statement(ref: RepoRef, digest: str, predicate_type: str, predicate: dict) -> dict:
    """An in-toto statement that `predicate` is about the image `digest` in `ref`'s repository: what an attestation
    signs, so the claim cannot be moved to another image."""
    return {"_type": STATEMENT_TYPE, "subject": [{"name": ref.name, "digest": {"sha256": digest.split(":", 1)[1]}}],
            "predicateType": predicate_type, "predicate": predicate}


def envelope(doc: dict, signer: Signer) -> bytes:
    """`doc` signed in a DSSE envelope: the signature covers the payload type with the bytes, as verifiers check it."""
    body = json.dumps(doc, separators=(",", ":")).encode()
    sig = base64.b64encode(signer.sign(pae(IN_TOTO, body))).decode()
    return json.dumps({"payloadType": IN_TOTO, "payload": base64.b64encode(body).decode(),
                       "signatures": [{"keyid": "", "sig": sig}]}, separators=(",", ":")).encode()


def provenance(doc: dict, options: dict, original_id: str | None, started: str, finished: str) -> dict:
    """The SLSA provenance v1 predicate of a build report (slim.build/1) and the options it was built with."""
    v, profile = doc["verification"], (doc.get("hardening") or {}).get("run_profile")
    original = {"uri": f"docker-image:{doc['image']}", "name": doc["image"]}
    if original_id:
        original["digest"] = {"sha256": original_id.split(":", 1)[-1]}
        original["annotations"] = {"digest_of": "the image config (the engine's image ID)"}
    return {
        "buildDefinition": {"buildType": BUILD_TYPE,
                            "externalParameters": {"image": doc["image"], "options": options},
                            "resolvedDependencies": [original]},
        "runDetails": {
            "builder": {"id": "urn:slim:builder", "version": {"slim": __version__},
                        "builderDependencies": [{"name": "engine", "annotations": doc.get("engine") or {}}]},
            "metadata": {"startedOn": started, "finishedOn": finished},
            "byproducts": [
                {"name": "probes", "annotations": {"probes": [
                    {k: p.get(k) for k in ("kind", "target", "ok", "status")} for p in v["probes"]]}},
                {"name": "verification", "annotations": {"ran": v["ran"], "passed": v["passed"],
                                                         "differences": v["differences"]}},
                {"name": "hardening", "annotations": {
                    "verified": profile.get("verified") if profile else None,
                    "command": redacted(profile.get("command")) if profile else None,
                    "capabilities": profile.get("capabilities") if profile else None}},
                {"name": "sizes", "annotations": doc["size"]},
            ]},
    }


def redacted(argv: list[str] | None) -> list[str] | None:
    """A run line with the values of its environment variables replaced by "...": the provenance is published
    beside the image, and an --env value can be a token."""
    if argv is None:
        return None
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in ("-e", "--env"):
            arg = arg.split("=", 1)[0] + "=..."
        elif arg.startswith("--env="):
            arg = "--env=" + arg[len("--env="):].split("=", 1)[0] + "=..."
        out.append(arg)
    return out


def attest(registry: Registry, ref: RepoRef, digest: str, signer: Signer, predicates: list[tuple[str, dict]]) -> str:
    """Attach one signed statement per (predicate type, predicate); one of the same type already there is
    replaced. Returns the attestation tag."""
    tag = sidecar_tag(digest, "att")
    for predicate_type, predicate in predicates:
        blob = envelope(statement(ref, digest, predicate_type, predicate), signer)
        attach(registry, ref.repository, tag, blob, ENVELOPE_TYPE,
               {SIGNATURE_ANNOTATION: "", "predicateType": predicate_type},
               drop=lambda layer, t=predicate_type: (layer.get("annotations") or {}).get("predicateType") == t)
    return tag


@dataclass(frozen=True)
class Attestation:
    """One attestation read back from the registry: its predicate type and the statement, for verification and tests."""

    predicate_type: str
    statement: dict


def read_attestations(registry: Registry, ref: RepoRef, digest: str, public) -> list[Attestation]:
    """Every attestation of `digest`, each verified (signature by `public`, subject = `digest`); the first that
    fails raises SignatureInvalid, and so does having none."""
    tag = sidecar_tag(digest, "att")
    found = registry.manifest(ref.repository, tag)
    if found is None:
        raise SignatureInvalid(f"{ref}: no attestations ({ref.repository}:{tag} does not exist)")
    out = []
    for layer in json.loads(found[0]).get("layers", []):
        if layer.get("mediaType") != ENVELOPE_TYPE:
            continue
        out.append(_open(registry.blob(ref.repository, layer["digest"]), public, digest, f"{ref}: attestation "
                         f"{layer['digest'][:19]}"))
    if not out:
        raise SignatureInvalid(f"{ref}: the attestation manifest holds no envelope")
    return out


def _open(blob: bytes, public, digest: str, what: str) -> Attestation:
    try:
        env = json.loads(blob)
        body = base64.b64decode(env["payload"], validate=True)
        sigs = [base64.b64decode(s["sig"], validate=True) for s in env["signatures"]]
        payload_type = env["payloadType"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureInvalid(f"{what}: not a DSSE envelope ({exc})") from exc
    if payload_type != IN_TOTO:
        raise SignatureInvalid(f"{what}: payload type {payload_type!r}, not an in-toto statement")
    errors = []
    for sig in sigs:
        try:
            keys.verify(public, pae(payload_type, body), sig, what)
            break
        except SignatureInvalid as exc:
            errors.append(str(exc))
    else:
        raise SignatureInvalid(errors[0] if errors else f"{what}: the envelope has no signature")
    doc = json.loads(body)
    subjects = {s.get("digest", {}).get("sha256") for s in doc.get("subject") or []}
    if digest.split(":", 1)[1] not in subjects:
        raise SignatureInvalid(f"{what}: its subject is not the image {digest}")
    return Attestation(doc.get("predicateType", ""), doc)
