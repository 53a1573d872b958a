"""The few calls of the registry HTTP API (the OCI distribution spec) that signing needs: read a manifest and
its digest, read and write blobs, write a manifest under a tag.

Credentials come from the Docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): its
`auths` entry for the registry, sent as Basic auth or traded for a bearer token when the registry asks for one.
Credential helpers (`credsStore`, `credHelpers`) are not run: log in so the config holds the credentials.
Registries on a loopback address are spoken to over plain HTTP, as Docker does; every other over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass

import requests

from slim.errors import RegistryError, UsageError

MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.oci.image.index.v1+json",
                  "application/vnd.docker.distribution.manifest.list.v2+json")
OCI_MANIFEST = MANIFEST_TYPES[0]
DOCKER_HUB, HUB_AUTH_KEY = "registry-1.docker.io", "https://index.docker.io/v1/"
TIMEOUT = 30
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")


@dataclass(frozen=True)
class RepoRef:
    """A reference split the way the registry API needs it: host[:port], repository path, tag or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """host/repository: the "docker-reference" a cosign payload names."""
        host = "docker.io" if self.registry == DOCKER_HUB else self.registry
        return f"{host}/{self.repository}"

    @property
    def reference(self) -> str:
        """What the manifests endpoint takes: the digest when there is one, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        return self.name + (f"@{self.digest}" if self.digest else f":{self.tag}" if self.tag else "")


def parse_repo_ref(text: str) -> RepoRef:
    """NAME[:TAG][@DIGEST] as Docker reads it: no host part means Docker Hub (library/ for one-part names)."""
    rest, _, digest = text.partition("@")
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest if "/" in rest else f"library/{rest}"
    tag = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, _, tag = path.rpartition(":")
    if not _REPOSITORY.fullmatch(path) or (digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest)):
        raise UsageError(f"{text}: not an image reference of a registry (HOST/REPOSITORY[:TAG])")
    return RepoRef(registry, path, tag or (None if digest else "latest"), digest or None)


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name == "localhost" or name.startswith("127.") or name in ("[::1]", "::1")


def _docker_auth(registry: str) -> str | None:
    """The base64 user:password the Docker config holds for `registry`, if any."""
    path = os.path.join(os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker"), "config.json")
    try:
        with open(path) as fh:
            auths = json.load(fh).get("auths") or {}
    except (OSError, ValueError):
        return None
    for key in (registry, f"https://{registry}", f"http://{registry}") + (
            (HUB_AUTH_KEY, "docker.io") if registry == DOCKER_HUB else ()):
        entry = auths.get(key) or {}
        if entry.get("auth"):
            return entry["auth"]
    return None


class Registry:
    """One registry host, with the credentials of the Docker config."""

    def __init__(self, host: str):
        self.host = host
        self.base = f"{'http' if _loopback(host) else 'https'}://{host}/v2"
        self.session = requests.Session()
        self._basic = _docker_auth(host)
        self._auth_header: str | None = None

    def close(self) -> None:
        """Close the HTTP session's connections."""
        self.session.close()

    def _request(self, method: str, url: str, repository: str, **kw) -> requests.Response:
        for attempt in (0, 1):
            headers = dict(kw.pop("headers", None) or {})
            if self._auth_header:
                headers["Authorization"] = self._auth_header
            try:
                resp = self.session.request(method, url, headers=headers, timeout=TIMEOUT, allow_redirects=True,
                                            **kw)
            except requests.RequestException as exc:
                raise RegistryError(f"{self.host}: {exc.__class__.__name__}: {exc}") from exc
            if resp.status_code != 401 or attempt:
                return resp
            self._authenticate(resp.headers.get("WWW-Authenticate", ""), repository)
            kw["headers"] = headers
        return resp

    def _authenticate(self, challenge: str, repository: str) -> None:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic" and self._basic:
            self._auth_header = f"Basic {self._basic}"
            return
        if scheme.lower() != "bearer":
            raise RegistryError(f"{self.host}: the registry asks for credentials the Docker config does not hold")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        query = {"service": fields.get("service", ""), "scope": f"repository:{repository}:pull,push"}
        auth = None
        if self._basic:
            user, _, password = base64.b64decode(self._basic).decode().partition(":")
            auth = (user, password)
        try:
            resp = self.session.get(fields.get("realm", ""), params=query, auth=auth, timeout=TIMEOUT)
            resp.raise_for_status()
            token = resp.json().get("token") or resp.json().get("access_token")
        except (requests.RequestException, ValueError) as exc:
            raise RegistryError(f"{self.host}: no token from {fields.get('realm')}: {exc}") from exc
        self._auth_header = f"Bearer {token}"

    def _fail(self, resp: requests.Response, what: str) -> None:
        if resp.status_code >= 400:
            raise RegistryError(f"{self.host}: {what}: HTTP {resp.status_code} {resp.text[:200].strip()}")

    def manifest(self, repository: str, reference: str) -> tuple[bytes, str, str] | None:
        """(bytes, media type, digest) of a manifest; None when the registry has none under `reference`."""
        resp = self._request("GET", f"{self.base}/{repository}/manifests/{reference}", repository,
                             headers={"Accept": ", ".join(MANIFEST_TYPES)})
        if resp.status_code == 404:
            return None
        self._fail(resp, f"reading the manifest {repository}:{reference}")
        digest = "sha256:" + hashlib.sha256(resp.content).hexdigest()
        said = resp.headers.get("Docker-Content-Digest")
        if said and said != digest:
            raise RegistryError(f"{self.host}: the manifest of {repository}:{reference} does not hash to the "
                                f"digest the registry gives ({said})")
        if reference.startswith("sha256:") and reference != digest:
            raise RegistryError(f"{self.host}: asked for {reference}, got a manifest hashing to {digest}")
        return resp.content, resp.headers.get("Content-Type", "").split(";")[0], digest

    def blob(self, repository: str, digest: str) -> bytes:
        """A blob's bytes, checked against their digest: a registry is trusted to store, not to be right."""
        resp = self._request("GET", f"{self.base}/{repository}/blobs/{digest}", repository)
        self._fail(resp, f"reading the blob {digest}")
        if "sha256:" + hashlib.sha256(resp.content).hexdigest() != digest:
            raise RegistryError(f"{self.host}: the blob {digest} does not hash to its digest")
        return resp.content

    def put_blob(self, repository: str, data: bytes) -> str:
        """Upload `data` as a blob unless the registry has it already; its digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        head = self._request("HEAD", f"{self.base}/{repository}/blobs/{digest}", repository)
        if head.status_code == 200:
            return digest
        start = self._request("POST", f"{self.base}/{repository}/blobs/uploads/", repository)
        self._fail(start, "starting a blob upload")
        location = requests.compat.urljoin(self.base + "/", start.headers["Location"])
        done = self._request("PUT", location, repository, params={"digest": digest}, data=data,
                             headers={"Content-Type": "application/octet-stream"})
        self._fail(done, f"uploading the blob {digest}")
        return digest

    def put_manifest(self, repository: str, tag: str, data: bytes, media_type: str = OCI_MANIFEST) -> str:
        """Write a manifest under `tag`; its digest, which signatures and attestations name."""
        resp = self._request("PUT", f"{self.base}/{repository}/manifests/{tag}", repository, data=data,
                             headers={"Content-Type": media_type})
        self._fail(resp, f"writing the manifest {repository}:{tag}")
        return "sha256:" + hashlib.sha256(data).hexdigest()
