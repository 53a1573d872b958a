"""The containers-policy.json and registries.d files that make Podman, skopeo and CRI-O refuse images from a
registry unless they are signed: `sigstoreSigned` with a cosign public key, or `signedBy` with a GPG key.

Other registries keep the permissive default (`insecureAcceptAnything`), so installing the policy does not stop
everything else from pulling; `reject_others` makes the default `reject`.
"""

from __future__ import annotations

import json
import os

import yaml

from slim.errors import UsageError


def requirement(sigstore_key: str | None, gpg_key: str | None) -> dict:
    """The policy requirement for one key: `sigstoreSigned` for a cosign public key, `signedBy` for a GPG key; a
    usage error unless exactly one is named."""
    if bool(sigstore_key) == bool(gpg_key):
        raise UsageError("name one key: --key FILE.pub (cosign) or --gpg-key FILE (GPG)")
    if sigstore_key:
        # cosign signs the repository, not the tag: match the repository the image is pulled from
        return {"type": "sigstoreSigned", "keyPath": os.path.abspath(sigstore_key),
                "signedIdentity": {"type": "matchRepository"}}
    return {"type": "signedBy", "keyType": "GPGKeys", "keyPath": os.path.abspath(gpg_key or "")}


def policy_json(scope: str, sigstore_key: str | None, gpg_key: str | None, reject_others: bool = False) -> str:
    """policy.json: images from `scope` (HOST[:PORT][/REPOSITORY]) must carry the signature."""
    _check_scope(scope)
    doc = {"default": [{"type": "reject" if reject_others else "insecureAcceptAnything"}],
           "transports": {"docker": {scope: [requirement(sigstore_key, gpg_key)]},
                          "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}}}
    return json.dumps(doc, indent=2) + "\n"


def registries_d_yaml(scope: str, sigstore: bool, lookaside: str | None) -> str:
    """registries.d entry for `scope`: read cosign signatures from the registry (`use-sigstore-attachments`),
    and/or GPG signatures from the lookaside store (a file:// URL or a directory)."""
    _check_scope(scope)
    entry: dict = {}
    if sigstore:
        entry["use-sigstore-attachments"] = True
    if lookaside:
        url = lookaside if "://" in lookaside else "file://" + os.path.abspath(lookaside)
        entry["lookaside"] = url
        entry["lookaside-staging"] = url
    if not entry:
        raise UsageError("a GPG policy needs the signature store: give --lookaside DIR|URL")
    return yaml.safe_dump({"docker": {scope: entry}}, sort_keys=False)


def _check_scope(scope: str) -> None:
    if not scope or scope.startswith(("http://", "https://")) or any(c in scope for c in " @"):
        raise UsageError(f"--registry {scope!r}: expected HOST[:PORT][/REPOSITORY], no scheme")
