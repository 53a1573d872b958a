"""Containers "simple signing" with GPG: the signature format Podman, skopeo and CRI-O verify under a
`signedBy` policy, written to a lookaside signature store.

A signature is a GPG-signed (not detached, not armored) JSON document naming the image by its reference and its
manifest digest (type "atomic container signature"). It is stored outside the registry, in the store the
registries.d configuration names for the registry (`lookaside-staging` to write, `lookaside` to read; the older
names `sigstore-staging` and `sigstore` are read too), as BASE/REPOSITORY@sha256=HEX/signature-N, N from 1.
Signing runs the `gpg` program with the user's keyring; the key is named by fingerprint, as `skopeo --sign-by`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from urllib.parse import urlparse

import yaml

from slim import __version__
from slim.errors import SignatureInvalid, SigningFailed, UsageError
from slim.sign.registry import RepoRef

SIGNATURE_KIND = "atomic container signature"
DEFAULT_REGISTRIES_D = ("~/.config/containers/registries.d", "/etc/containers/registries.d")


def payload(reference: str, digest: str, now: int | None = None) -> bytes:
    """The simple-signing document for `reference` at `digest` that GPG signs: verifiers compare both with the image
    they pull, so a signature cannot be moved to another image or repository."""
    doc = {"critical": {"identity": {"docker-reference": reference}, "image": {"docker-manifest-digest": digest},
                        "type": SIGNATURE_KIND},
           "optional": {"creator": f"slim {__version__}", "timestamp": int(time.time() if now is None else now)}}
    return json.dumps(doc, separators=(",", ":")).encode()


def _gpg(args: list[str], data: bytes | None, home: str | None = None, passphrase: str | None = None):
    env = dict(os.environ, **({"GNUPGHOME": home} if home else {}))
    argv = ["gpg", "--batch", "--no-tty", "--status-fd", "2"]
    read_fd = None
    if passphrase is not None:  # a key with a passphrase, and no agent to ask: hand it over through a pipe
        read_fd, write_fd = os.pipe()
        os.write(write_fd, passphrase.encode() + b"\n")
        os.close(write_fd)
        argv += ["--pinentry-mode", "loopback", "--passphrase-fd", str(read_fd)]
    try:
        return subprocess.run(argv + args, input=data, capture_output=True, env=env, timeout=120,
                              pass_fds=(read_fd,) if read_fd is not None else ())
    except FileNotFoundError as exc:
        raise SigningFailed("gpg is not installed (Debian package gnupg)") from exc
    finally:
        if read_fd is not None:
            os.close(read_fd)


def sign(body: bytes, fingerprint: str) -> bytes:
    """The GPG signature (binary, message included) of `body` by the key `fingerprint` of the user's keyring."""
    done = _gpg(["--local-user", fingerprint, "--sign", "--output", "-"], body,
                passphrase=os.environ.get("SLIM_GPG_PASSPHRASE"))
    if done.returncode != 0 or not done.stdout:
        raise SigningFailed(f"gpg could not sign with {fingerprint}: {_last_error(done.stderr)}")
    return done.stdout


def _last_error(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line and "[GNUPG:]" not in line]
    return lines[-1] if lines else "no reason given"


def signature_dir_for(ref: RepoRef, explicit: str | None, registries_d: str | None, write: bool) -> str:
    """The local directory of `ref`'s repository in the signature store: --signature-dir, else what
    registries.d names for the registry (a file:// store)."""
    if explicit:
        return os.path.join(os.path.abspath(explicit), ref.repository)
    url = lookaside_url(ref, registries_d, write)
    if url is None:
        raise UsageError(f"no signature store for {ref.registry}: give --signature-dir or a registries.d entry "
                         f"with lookaside{'-staging' if write else ''}")
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise UsageError(f"the signature store {url} is not a file:// URL: slim writes and reads local stores "
                         "only (publish the directory with a web server for pulls elsewhere)")
    return os.path.join(parsed.path, ref.repository)


def lookaside_url(ref: RepoRef, registries_d: str | None, write: bool) -> str | None:
    """The store URL of the most specific registries.d scope that matches `ref` (then default-docker)."""
    scopes: dict[str, dict] = {}
    default = None
    for directory in [registries_d] if registries_d else [os.path.expanduser(d) for d in DEFAULT_REGISTRIES_D]:
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(directory, name)) as fh:
                    doc = yaml.safe_load(fh) or {}
                scopes.update(doc.get("docker") or {})
                default = doc.get("default-docker") or default
        if registries_d is None and (scopes or default):
            break  # as the containers tools do: the user's directory, when it has anything, hides the system's
    name = f"{ref.registry}/{ref.repository}"
    best = max((s for s in scopes if name == s or name.startswith(s.rstrip("/") + "/")), key=len, default=None)
    entry = scopes[best] if best is not None else (default or {})
    keys = ("lookaside-staging", "sigstore-staging", "lookaside", "sigstore") if write else ("lookaside", "sigstore")
    return next((entry[k] for k in keys if entry.get(k)), None)


def store(directory: str, digest: str, signature: bytes) -> str:
    """Write `signature` as the next free signature-N of `digest`; returns its path."""
    folder = f"{directory}@{digest.replace(':', '=')}"
    os.makedirs(folder, exist_ok=True)
    n = 1
    while os.path.exists(os.path.join(folder, f"signature-{n}")):
        n += 1
    path = os.path.join(folder, f"signature-{n}")
    with open(path, "wb") as fh:
        fh.write(signature)
    return path


def signatures(directory: str, digest: str) -> list[str]:
    """The signature files a lookaside store holds for `digest` under `directory`, in the order of their numbers, so
    the next one written takes the next number."""
    folder = f"{directory}@{digest.replace(':', '=')}"
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return [os.path.join(folder, n) for n in sorted(names, key=lambda n: int(n.split("-")[-1]))
            if re.fullmatch(r"signature-[1-9][0-9]*", n)]


def verify(paths: list[str], public_key_file: str, ref: RepoRef, digest: str) -> list[str]:
    """The fingerprints that signed `digest` for `ref` among the signature files, checked against the keys in
    `public_key_file` only (a throwaway keyring); SignatureInvalid when none passes."""
    if not paths:
        raise SignatureInvalid(f"{ref}: no GPG signature for {digest} in the signature store")
    problems, good = [], []
    with tempfile.TemporaryDirectory(prefix="slim-gpg-") as home:
        imported = _gpg(["--import", public_key_file], None, home)
        if imported.returncode != 0:
            raise UsageError(f"{public_key_file}: gpg cannot import it: {_last_error(imported.stderr)}")
        for path in paths:
            done = _gpg(["--decrypt", path], None, home)
            valid = re.search(rb"^\[GNUPG:\] VALIDSIG ([0-9A-F]{40})", done.stderr, re.M)
            if done.returncode != 0 or valid is None:
                problems.append(f"{os.path.basename(path)}: not signed by the key ({_last_error(done.stderr)})")
                continue
            problem = _check_payload(done.stdout, ref, digest)
            if problem:
                problems.append(f"{os.path.basename(path)}: {problem}")
            else:
                good.append(valid.group(1).decode())
    if not good:
        raise SignatureInvalid(f"{ref}: " + "; ".join(problems))
    return good


def _check_payload(body: bytes, ref: RepoRef, digest: str) -> str | None:
    try:
        critical = json.loads(body)["critical"]
        named, identity = critical["image"]["docker-manifest-digest"], critical["identity"]["docker-reference"]
        kind = critical["type"]
    except (ValueError, KeyError, TypeError):
        return "not a simple-signing document"
    if kind != SIGNATURE_KIND or named != digest:
        return f"names {named}, not {digest}"
    wanted = f"{ref.name}:{ref.tag}" if ref.tag and not ref.digest else None
    if wanted and identity != wanted and identity != f"{ref.registry}/{ref.repository}:{ref.tag}":
        return f"signed as {identity}, not {wanted}"
    return None
