"""Opening an engine's Docker-compatible API endpoint, and telling which engine answers: Docker's dockerd, or a
Podman service (its /_ping answers with a Libpod-Api-Version header, its version), each with its own adapter.
The ping is the whole check: Podman takes about half a second to answer /version.

A TCP endpoint is reached with TLS as the docker command line reaches it: DOCKER_HOST with DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), or a Docker context with its TLS material."""

from __future__ import annotations

import os
import ssl
import warnings

import docker
import docker.tls
import urllib3.exceptions

from slim.engine.docker import _FAULTS, DockerEngine, current_context, remote_host
from slim.engine.podman import PodmanEngine
from slim.errors import EngineError

API_VERSION = "1.41"
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")


def open_endpoint(where: str) -> DockerEngine:
    """Connect to the API at `where` and check it answers; a Podman service answers as a PodmanEngine."""
    tls = tls_settings(where)
    try:
        # API 1.41: what Docker 20.10 and Podman 4's compatible API speak, and newer engines still serve; naming it
        # spares the SDK asking /version first
        client = docker.DockerClient(base_url=where, tls=tls or False, timeout=300, version=API_VERSION)
        if tls is not None:
            _keep_verify(client.api)
            if not tls.verify:  # asked for (SkipTLSVerify, DOCKER_CERT_PATH alone): not one warning per request
                warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        answer = client.api.get(client.api._url("/_ping"), timeout=30)
        answer.raise_for_status()
        libpod = answer.headers.get("Libpod-Api-Version")
        if libpod:
            return PodmanEngine.of(client, where, {"Version": libpod, "ApiVersion": answer.headers.get("Api-Version",
                                                                                                        "")})
    except _FAULTS as exc:
        raise EngineError(f"no engine answers at {where}: {describe_fault(exc, tls)}") from exc
    return DockerEngine(client, remote_host(where), where)


def tls_settings(where: str) -> docker.tls.TLSConfig | None:
    """How to reach `where` over TLS: from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH when it is DOCKER_HOST, from the
    current context's TLS material when it is that context's endpoint; None (plain) for Unix sockets and ssh."""
    if where.partition("://")[0] not in ("tcp", "https"):
        return None
    if where == os.environ.get("DOCKER_HOST"):
        verify = bool(os.environ.get("DOCKER_TLS_VERIFY"))  # any non-empty value, as the docker command line reads it
        cert_path = os.environ.get("DOCKER_CERT_PATH")
        if not verify and not cert_path:
            return None
        return _tls_from(cert_path or os.path.join(os.path.expanduser("~"), ".docker"), verify, "DOCKER_CERT_PATH")
    context = current_context()
    if context is None or context.Host != where:
        return None
    from docker.context.config import get_tls_dir

    directory = get_tls_dir(context.Name, "docker")
    if not any(os.path.isfile(os.path.join(directory, name)) for name in TLS_FILES):
        return None
    verify = not context.endpoints.get("docker", {}).get("SkipTLSVerify", False)
    return _tls_from(directory, verify, f"the TLS material of context {context.Name}")


def _keep_verify(session) -> None:
    """Makes the session check the engine against its own CA even when REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is set:
    requests lets those replace a session's `verify` on every request (CI images often set them), and the engine's
    certificate is signed by its own CA, not by a public one. Proxies and the rest of the environment still apply."""
    merge = session.merge_environment_settings

    def keep(url, proxies, stream, verify, cert):
        settings = merge(url, proxies, stream, verify, cert)
        settings["verify"] = session.verify if verify is None else verify
        return settings

    session.merge_environment_settings = keep


def _tls_from(directory: str, verify: bool, what: str) -> docker.tls.TLSConfig:
    """TLS settings from a directory of ca.pem, cert.pem and key.pem; without cert.pem and key.pem, no client
    certificate is offered (an engine run with --tlsverify then refuses the connection, and says so)."""
    ca, cert, key = (os.path.join(directory, name) for name in TLS_FILES)
    if verify and not os.path.isfile(ca):
        raise EngineError(f"TLS verification is asked for, but {what} ({directory}) has no ca.pem")
    if os.path.isfile(cert) != os.path.isfile(key):
        raise EngineError(f"{what} ({directory}) has one of cert.pem and key.pem without the other")
    client_cert = (cert, key) if os.path.isfile(cert) else None
    return docker.tls.TLSConfig(client_cert=client_cert, ca_cert=ca if verify else None, verify=verify)


def describe_fault(exc: BaseException, tls: docker.tls.TLSConfig | None) -> str:
    """One line on why the connection failed, naming the TLS cause when there is one."""
    cause = _ssl_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (f"TLS: the engine's certificate does not verify against {tls.ca_cert if tls else 'the trusted CAs'}"
                f" ({cause.verify_message})")
    if cause is not None:
        reason = getattr(cause, "reason", None) or " ".join(str(cause).split())
        offered = "no client certificate" if tls is None or tls.cert is None else f"the certificate {tls.cert[0]}"
        return f"TLS: the engine refused the connection ({reason}; offered {offered})"
    response = getattr(exc, "response", None)
    if response is not None and response.status_code == 400 and b"HTTPS server" in (response.content or b""):
        return ("the engine speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or use a context with its TLS "
                "files")
    return " ".join(str(exc).split())


def _ssl_cause(exc: BaseException | None, depth: int = 0) -> ssl.SSLError | None:
    """The ssl error behind `exc`, however requests and urllib3 wrapped it (errors, causes, retry reasons)."""
    if exc is None or depth > 8:
        return None
    if isinstance(exc, ssl.SSLError):
        return exc
    inner = [getattr(exc, "reason", None), exc.__cause__, exc.__context__]
    inner += [a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)]
    for candidate in inner:
        if isinstance(candidate, BaseException):
            found = _ssl_cause(candidate, depth + 1)
            if found is not None:
                return found
    return None

