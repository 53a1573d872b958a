"""Sigstore signatures of pushed images, stored the way cosign stores them, so cosign, Kyverno, Sigstore's
policy-controller and Podman/skopeo builds with sigstore support verify them.

Layout (cosign's, over the plain registry API): the image's manifest digest sha256:HEX gets a tag
`sha256-HEX.sig` in the same repository. That tag is an OCI image manifest whose layers are signatures: each
layer is a simple-signing payload (JSON naming the repository and the manifest digest, media type
application/vnd.dev.cosign.simplesigning.v1+json) and carries its base64 ECDSA P-256/SHA-256 signature in the
annotation dev.cosignproject.cosign/signature. Signing again adds a layer; signatures already there are kept.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Protocol

from slim.errors import RegistryError, SignatureInvalid
from slim.sign import keys
from slim.sign.registry import OCI_MANIFEST, Registry, RepoRef

PAYLOAD_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_KIND = "cosign container image signature"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"


class Signer(Protocol):
    """What signs: a key file today; a keyless signer (a Fulcio certificate, a Rekor entry) would be another
    implementation, which needs the public Sigstore services this machine cannot reach."""

    def sign(self, message: bytes) -> bytes:
        """An ECDSA P-256/SHA-256 signature of `message`, DER-encoded as cosign writes it."""

    def public_pem(self) -> bytes:
        """The public key that verifies this signer's signatures, as PEM, for messages and policies."""


@dataclass(frozen=True)
class KeySigner:
    """The `Signer` over a cosign key file unlocked with its password."""

    pair: keys.KeyPair

    def sign(self, message: bytes) -> bytes:
        return keys.sign(self.pair, message)

    def public_pem(self) -> bytes:
        return keys.public_pem(self.pair.public)


def payload(ref: RepoRef, digest: str) -> bytes:
    """The simple-signing payload cosign signs: compact JSON, keys in cosign's order."""
    doc = {"critical": {"identity": {"docker-reference": ref.name}, "image": {"docker-manifest-digest": digest},
                        "type": SIGNATURE_KIND}, "optional": None}
    return json.dumps(doc, separators=(",", ":")).encode()


def sidecar_tag(digest: str, suffix: str) -> str:
    """sha256:HEX -> sha256-HEX.sig (or .att, .sbom): where cosign looks for what belongs to a digest."""
    return digest.replace(":", "-") + "." + suffix


def attach(registry: Registry, repository: str, tag: str, blob: bytes, media_type: str, annotations: dict,
           drop=lambda layer: False) -> str:
    """Add `blob` as a layer of the sidecar manifest `tag` (made when missing), keeping the layers there except
    those `drop` selects; returns the new manifest's digest."""
    layers = []
    found = registry.manifest(repository, tag)
    if found is not None:
        layers = [layer for layer in json.loads(found[0]).get("layers", []) if not drop(layer)]
    layer = {"mediaType": media_type, "size": len(blob), "digest": registry.put_blob(repository, blob),
             "annotations": annotations}
    if layer not in layers:
        layers.append(layer)
    # the layers are stored uncompressed, so each layer's digest is also its diff ID
    config = json.dumps({"architecture": "", "created": "0001-01-01T00:00:00Z", "os": "", "config": {},
                         "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layers],
                         "rootfs": {"type": "layers", "diff_ids": [entry["digest"] for entry in layers]}},
                        separators=(",", ":")).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": CONFIG_TYPE, "size": len(config),
                           "digest": registry.put_blob(repository, config)},
                "layers": layers}
    return registry.put_manifest(repository, tag, json.dumps(manifest, separators=(",", ":")).encode())


def sign_image(registry: Registry, ref: RepoRef, digest: str, signer: Signer) -> str:
    """Sign the manifest `digest` of `ref`'s repository; returns the signature tag."""
    body = payload(ref, digest)
    signature = base64.b64encode(signer.sign(body)).decode()
    tag = sidecar_tag(digest, "sig")
    attach(registry, ref.repository, tag, body, PAYLOAD_TYPE, {SIGNATURE_ANNOTATION: signature})
    return tag


@dataclass(frozen=True)
class Verified:
    """One signature that checked out: the digest and repository its payload names, and the tag it was found under."""

    digest: str  # the image's manifest digest the signature names
    identity: str  # the repository the payload names
    signature_tag: str


def resolve(registry: Registry, ref: RepoRef) -> str:
    """The manifest digest `ref` names in the registry (its tag's, or the digest given)."""
    found = registry.manifest(ref.repository, ref.reference)
    if found is None:
        raise SignatureInvalid(f"{ref}: the registry has no such image")
    return found[2]


def verify_image(registry: Registry, ref: RepoRef, public, digest: str | None = None) -> list[Verified]:
    """The signatures of `ref` that `public` made and that name its digest; SignatureInvalid when none does."""
    digest = digest or resolve(registry, ref)
    tag = sidecar_tag(digest, "sig")
    found = registry.manifest(ref.repository, tag)
    if found is None:
        raise SignatureInvalid(f"{ref}: no cosign signature ({ref.repository}:{tag} does not exist)")
    good, problems = [], []
    for layer in json.loads(found[0]).get("layers", []):
        if layer.get("mediaType") != PAYLOAD_TYPE:
            continue
        body = registry.blob(ref.repository, layer["digest"])
        try:
            signature = base64.b64decode((layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION, ""), validate=True)
            keys.verify(public, body, signature, f"{ref}: signature layer {layer['digest'][:19]}")
            critical = json.loads(body)["critical"]
            named = critical["image"]["docker-manifest-digest"]
            if critical.get("type") != SIGNATURE_KIND or named != digest:
                raise SignatureInvalid(f"{ref}: a signature names {named}, not the image's {digest}")
            good.append(Verified(digest, critical["identity"]["docker-reference"], tag))
        except (SignatureInvalid, ValueError, KeyError, TypeError) as exc:
            problems.append(str(exc) if isinstance(exc, SignatureInvalid) else f"malformed signature layer: {exc}")
    if not good:
        raise SignatureInvalid("; ".join(dict.fromkeys(problems)) or f"{ref}: the signature manifest holds no "
                               "signature")
    return good


def pushed_digest(registry: Registry, ref: RepoRef, image_id: str) -> str:
    """The digest of the manifest the registry now serves for the pushed tag, checked to be the image that was
    verified: its config digest is the image ID (the engine's ID is the digest of the config it pushed)."""
    found = registry.manifest(ref.repository, ref.reference)
    if found is None:
        raise RegistryError(f"{ref}: the registry has no such tag after the push")
    manifest = json.loads(found[0])
    config = (manifest.get("config") or {}).get("digest")
    if config != image_id:
        raise SignatureInvalid(f"{ref}: the registry serves an image with config {config}, not the verified "
                               f"image {image_id}: not signed")
    return found[2]
