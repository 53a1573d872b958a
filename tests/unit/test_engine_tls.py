"""How slim reaches a TCP engine over TLS (slim.engine.endpoint.tls_settings): from DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH for DOCKER_HOST, from a Docker context's TLS material (in a temporary DOCKER_CONFIG, never this
machine's ~/.docker) for the context's endpoint; a chosen context is the only endpoint tried; and a TLS failure is
described in one line that names its cause."""

from __future__ import annotations

import hashlib
import json
import ssl

import pytest
import requests.exceptions

from slim.engine import candidates
from slim.engine.endpoint import describe_fault, tls_settings
from slim.errors import EngineError

HOST = "tcp://10.0.0.5:2376"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT", "CONTAINER_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def cert_dir(path, names=("ca.pem", "cert.pem", "key.pem")):
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_text("not read here")
    return path


def context(tmp_path, name: str, host: str, tls_files=("ca.pem", "cert.pem", "key.pem"), skip_verify=False):
    """A context as `docker context create NAME --docker host=...,ca=...,cert=...,key=...` stores it."""
    config = tmp_path / "docker-config"
    ident = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / ident
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {}, "Endpoints": {
        "docker": {"Host": host, "SkipTLSVerify": skip_verify}}}))
    if tls_files:
        cert_dir(config / "contexts" / "tls" / ident / "docker", tls_files)
    return config / "contexts" / "tls" / ident / "docker"


def use(tmp_path, name: str) -> None:
    (tmp_path / "docker-config" / "config.json").write_text(json.dumps({"currentContext": name}))


def test_docker_host_alone_is_plain(clean_env, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", HOST)
    assert tls_settings(HOST) is None
    assert tls_settings("unix:///var/run/docker.sock") is None


def test_docker_tls_verify_and_cert_path(clean_env, monkeypatch, tmp_path):
    certs = cert_dir(tmp_path / "certs")
    monkeypatch.setenv("DOCKER_HOST", HOST)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certs))
    tls = tls_settings(HOST)
    assert tls.verify is True and tls.ca_cert == str(certs / "ca.pem")
    assert tls.cert == (str(certs / "cert.pem"), str(certs / "key.pem"))
    assert tls_settings("tcp://10.0.0.6:2376") is None  # TLS settings of DOCKER_HOST are for DOCKER_HOST only


def test_tls_without_a_ca_or_with_half_a_key_pair_is_one_line(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", HOST)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(cert_dir(tmp_path / "none", ())))
    with pytest.raises(EngineError, match=r"DOCKER_CERT_PATH \(.*\) has no ca.pem"):
        tls_settings(HOST)
    monkeypatch.setenv("DOCKER_CERT_PATH", str(cert_dir(tmp_path / "half", ("ca.pem", "cert.pem"))))
    with pytest.raises(EngineError, match="without the other"):
        tls_settings(HOST)


def test_a_ca_alone_offers_no_client_certificate(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", HOST)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(cert_dir(tmp_path / "ca-only", ("ca.pem",))))
    tls = tls_settings(HOST)
    assert tls.cert is None and tls.verify is True


def test_a_context_holds_its_own_tls_material(clean_env, tmp_path):
    stored = context(tmp_path, "remote", HOST)
    use(tmp_path, "remote")
    tls = tls_settings(HOST)
    assert tls.verify is True and tls.ca_cert == str(stored / "ca.pem")
    assert tls.cert == (str(stored / "cert.pem"), str(stored / "key.pem"))
    assert candidates(None) == ([HOST], True)  # chosen: nothing else stands in for it when it fails
    assert candidates("podman")[0] != [HOST]


def test_docker_context_names_the_context(clean_env, monkeypatch, tmp_path):
    context(tmp_path, "remote", HOST)
    context(tmp_path, "plain", "tcp://10.0.0.7:2375", tls_files=())
    use(tmp_path, "remote")
    monkeypatch.setenv("DOCKER_CONTEXT", "plain")
    assert candidates(None) == (["tcp://10.0.0.7:2375"], True)
    assert tls_settings("tcp://10.0.0.7:2375") is None  # a context without TLS files is plain, as for the CLI
    assert tls_settings(HOST) is None  # not the current context's endpoint


def test_a_context_that_skips_verification(clean_env, tmp_path):
    context(tmp_path, "lax", HOST, skip_verify=True)
    use(tmp_path, "lax")
    tls = tls_settings(HOST)
    assert tls.verify is False and tls.cert is not None


def _wrapped(error: Exception) -> Exception:
    """An ssl error as requests hands it over: inside urllib3's retry error, inside requests' own."""
    from urllib3.exceptions import MaxRetryError

    return requests.exceptions.SSLError(MaxRetryError(None, "/_ping", reason=error))


def test_tls_faults_name_their_cause(clean_env, monkeypatch, tmp_path):
    certs = cert_dir(tmp_path / "certs")
    monkeypatch.setenv("DOCKER_HOST", HOST)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certs))
    tls = tls_settings(HOST)
    unverified = ssl.SSLCertVerificationError(1, "certificate verify failed")
    unverified.verify_message = "unable to get local issuer certificate"
    message = describe_fault(_wrapped(unverified), tls)
    assert message == (f"TLS: the engine's certificate does not verify against {certs}/ca.pem "
                       "(unable to get local issuer certificate)")
    refused = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required")
    refused.reason = "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    message = describe_fault(_wrapped(refused), None)
    assert message == "TLS: the engine refused the connection (TLSV13_ALERT_CERTIFICATE_REQUIRED; offered no client " \
                      "certificate)"
    assert "\n" not in describe_fault(requests.exceptions.ConnectionError("refused\n  twice"), None)
