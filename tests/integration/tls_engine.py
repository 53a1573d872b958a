"""A second Docker engine for the remote-engine tests, reachable over TCP only with mutual TLS, as Docker documents
it ("Protect the Docker daemon socket"): a CA, a server and a client certificate made for this test run with the
openssl command line (installed with Debian's base system, so no new Python dependency), in a directory only root
can read, and a `dockerd --tlsverify` of its own.

Why a second daemon and not a second listener on the main one: dockerd takes its listeners on its command line only,
and the main engine is shared (other test runs use it at the same time), so it is never restarted here. The second
daemon has its own data root, exec root, pidfile, Unix socket and bridge, and touches no iptables chain of Docker's
(--iptables=false: a bridge driver with iptables on removes and recreates Docker's chains at start, which would cut
the main engine's rules): its containers reach the network through a MASQUERADE rule and two FORWARD rules of its
own, tagged with a comment and removed afterwards. Published ports go through docker-proxy, as a remote engine's do.

Everything it creates is named after its state directory under /var/tmp/tlsengine-*; a run that was killed before it
could clean up is cleaned up by the next one (`reap_stale`)."""

from __future__ import annotations

import glob
import ipaddress
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

STATE_ROOT = "/var/tmp"
PREFIX = "tlsengine-"
OWNER = "owner.pid"  # the pytest process that started the engine: a dead owner means stale leftovers


def openssl(*args: str, cwd: str) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {done.stderr.strip()}")


def make_ca(directory: str, name: str) -> None:
    """ca.pem and ca-key.pem in `directory`: a one-day CA (EC P-256: quick to make, and Go's TLS takes it)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", f"/CN={name}", "-keyout", "ca-key.pem", "-out", "ca.pem",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=directory)


def issue(ca_dir: str, out_dir: str, name: str, usage: str, san: str | None = None) -> None:
    """{name}-cert.pem and {name}-key.pem in `out_dir`, signed by the CA in `ca_dir`; `usage` is serverAuth or
    clientAuth (Docker's daemon checks a client certificate is meant for clients)."""
    key, csr, cert = (os.path.join(out_dir, f"{name}-{part}.pem") for part in ("key", "csr", "cert"))
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
            f"/CN={name}", "-keyout", key, "-out", csr, cwd=out_dir)
    ext = os.path.join(out_dir, f"{name}.ext")
    with open(ext, "w") as fh:
        fh.write(f"extendedKeyUsage={usage}\nkeyUsage=critical,digitalSignature\n"
                 "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
        if san:
            fh.write(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-days", "1", "-sha256", "-in", csr, "-CA", os.path.join(ca_dir, "ca.pem"), "-CAkey",
            os.path.join(ca_dir, "ca-key.pem"), "-CAcreateserial", "-out", cert, "-extfile", ext, cwd=out_dir)
    os.remove(csr)
    os.remove(ext)


def client_dir(ca_dir: str, target: str, server_ca: str) -> str:
    """A DOCKER_CERT_PATH directory: ca.pem (the CA the client trusts for the server), cert.pem and key.pem (a
    client certificate signed by the CA in `ca_dir`)."""
    os.makedirs(target, mode=0o700)
    issue(ca_dir, target, "client", "clientAuth")
    os.rename(os.path.join(target, "client-cert.pem"), os.path.join(target, "cert.pem"))
    os.rename(os.path.join(target, "client-key.pem"), os.path.join(target, "key.pem"))
    shutil.copy(server_ca, os.path.join(target, "ca.pem"))
    return target


def make_certificates(certs: str) -> None:
    """The CA, the server's certificate (for 127.0.0.1), the client directory `client/`; and, for the negative
    tests, `wrong-ca/` (a client that trusts another CA, with a certificate that CA signed)."""
    make_ca(certs, "slim test CA")
    issue(certs, certs, "server", "serverAuth", san="IP:127.0.0.1,DNS:localhost")
    client_dir(certs, os.path.join(certs, "client"), os.path.join(certs, "ca.pem"))
    other = os.path.join(certs, "other-ca")
    os.makedirs(other, mode=0o700)
    make_ca(other, "not the engine's CA")
    client_dir(other, os.path.join(certs, "wrong-ca"), os.path.join(other, "ca.pem"))


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 under 10.213.0.0/16 that no route of this host overlaps."""
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    taken = []
    for line in routes.splitlines():
        word = line.split()[0] if line.split() else ""
        if word and word[0].isdigit():
            taken.append(ipaddress.ip_network(word if "/" in word else f"{word}/32", strict=False))
    for n in range(os.getpid() % 200, os.getpid() % 200 + 256):
        net = ipaddress.ip_network(f"10.213.{n % 256}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    raise RuntimeError("no free /24 under 10.213.0.0/16 for the TLS engine's bridge")


def _rules(bridge: str, subnet: str, tag: str) -> list[list[str]]:
    """The iptables rules that let the engine's containers out (what dockerd would add itself with iptables on)."""
    comment = ["-m", "comment", "--comment", tag]
    return [["-t", "nat", "POSTROUTING", "-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE", *comment],
            ["-t", "filter", "FORWARD", "-i", bridge, "-j", "ACCEPT", *comment],
            ["-t", "filter", "FORWARD", "-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
             "-j", "ACCEPT", *comment]]


def _iptables(action: str, rule: list[str]) -> subprocess.CompletedProcess:
    table, chain, rest = rule[:2], rule[2], rule[3:]
    return subprocess.run(["iptables", *table, action, chain, *rest], capture_output=True, text=True)


class TlsEngine:
    """The engine and everything it needs; `start()` brings it up, `stop()` removes it all, whatever state the start
    reached."""

    def __init__(self) -> None:
        self.state = tempfile.mkdtemp(prefix=PREFIX, dir=STATE_ROOT)  # mode 0700: only root reads the keys
        with open(os.path.join(self.state, OWNER), "w") as fh:
            fh.write(str(os.getpid()))
        self.certs = os.path.join(self.state, "certs")
        self.cert_path = os.path.join(self.certs, "client")  # DOCKER_CERT_PATH
        self.wrong_ca_path = os.path.join(self.certs, "wrong-ca")
        self.socket = os.path.join(self.state, "docker.sock")  # the fixture's own way in, to load images
        self.bridge = f"slimtls{os.getpid() % 100000}"
        self.subnet: ipaddress.IPv4Network | None = None
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log = os.path.join(self.state, "dockerd.log")

    @property
    def host(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def env(self, cert_path: str | None = None) -> dict[str, str]:
        """What a client needs to reach the engine: DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH."""
        return {"DOCKER_HOST": self.host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": cert_path or self.cert_path}

    def start(self, port: int) -> None:
        self.port = port
        os.makedirs(self.certs, mode=0o700)
        make_certificates(self.certs)
        self._network()
        config = os.path.join(self.state, "daemon.json")
        with open(config, "w") as fh:
            fh.write("{}\n")  # not /etc/docker/daemon.json: that file is the main engine's
        argv = ["dockerd", "--config-file", config, "--data-root", os.path.join(self.state, "data"),
                "--exec-root", os.path.join(self.state, "exec"), "--pidfile", os.path.join(self.state, "docker.pid"),
                "-H", f"unix://{self.socket}", "-H", self.host, "--tlsverify",
                "--tlscacert", os.path.join(self.certs, "ca.pem"),
                "--tlscert", os.path.join(self.certs, "server-cert.pem"),
                "--tlskey", os.path.join(self.certs, "server-key.pem"),
                "--bridge", self.bridge, "--iptables=false", "--ip-masq=false", "--ip-forward=false"]
        with open(self.log, "ab") as log:
            # from /, in its own session: a Ctrl-C to pytest must not reach it before the teardown stops it
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd="/", start_new_session=True)
        self._wait(90)

    def _network(self) -> None:
        self.subnet = free_subnet()
        gateway = f"{next(self.subnet.hosts())}/{self.subnet.prefixlen}"
        for cmd in (["ip", "link", "add", self.bridge, "type", "bridge"],
                    ["ip", "addr", "add", gateway, "dev", self.bridge], ["ip", "link", "set", self.bridge, "up"]):
            subprocess.run(cmd, check=True, capture_output=True)
        with open(os.path.join(self.state, "bridge"), "w") as fh:
            fh.write(f"{self.bridge} {self.subnet}\n")  # for reap_stale, should this run be killed
        for rule in _rules(self.bridge, str(self.subnet), self.tag):
            done = _iptables("-I", rule)
            if done.returncode != 0:
                raise RuntimeError(f"iptables {' '.join(rule)}: {done.stderr.strip()}")

    @property
    def tag(self) -> str:
        return f"slim-tls-engine {os.path.basename(self.state)}"

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.ping(self.cert_path) == 200:
                return
            time.sleep(0.5)
        with open(self.log, errors="replace") as fh:
            tail = "".join(fh.readlines()[-15:])
        raise RuntimeError(f"the TLS engine did not answer on {self.host} within {seconds} s:\n{tail}")

    def ping(self, cert_path: str | None) -> int | None:
        """The HTTP status of GET /_ping over TLS with the client certificate in `cert_path` (None: no client
        certificate), trusting the engine's CA; None when the connection fails."""
        context = ssl.create_default_context(cafile=os.path.join(self.certs, "ca.pem"))
        if cert_path:
            context.load_cert_chain(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem"))
        import http.client

        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=10)
        try:
            conn.request("GET", "/_ping")
            return conn.getresponse().status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """The docker command line, on this engine's private Unix socket."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return subprocess.run(["docker", "-H", f"unix://{self.socket}", *args], env=env, **kwargs)

    def load(self, *tags: str) -> None:
        """Copies images from the main engine (docker save | docker load), for tests that slim them here."""
        save = subprocess.Popen(["docker", "-H", "unix:///var/run/docker.sock", "save", *tags],
                                stdout=subprocess.PIPE)
        try:
            done = self.docker("load", "-q", stdin=save.stdout, capture_output=True, text=True)
        finally:
            save.stdout.close()
            save.wait()
        if save.returncode != 0 or done.returncode != 0:
            raise RuntimeError(f"copying {' '.join(tags)} to the TLS engine failed: {done.stderr.strip()}")

    def leftovers(self) -> list[str]:
        """Containers and volumes on this engine, but for the tracer bundle (a deliberate, reused cache)."""
        containers = self.docker("ps", "-aq", capture_output=True, text=True).stdout.split()
        volumes = self.docker("volume", "ls", "-q", capture_output=True, text=True).stdout.split()
        return containers + [v for v in volumes if not v.startswith("slim-tracer-bundle-")]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Stops the engine and removes its bridge, rules and state directory, whatever state start() reached."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        remove_state(self.state, self.tag)


def remove_state(state: str, tag: str) -> None:
    """Removes what an engine left in `state` once it is stopped: its rules, bridge, mounts and files."""
    _remove_rules(tag)
    try:
        with open(os.path.join(state, "bridge")) as fh:
            bridge = fh.read().split()[0]
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
    except (OSError, IndexError):
        pass
    # a daemon killed hard can leave overlay and netns mounts under its roots: unmount them before removing files
    with open("/proc/self/mountinfo") as fh:
        mounts = [line.split()[4] for line in fh]
    for point in sorted((m for m in mounts if m.startswith(state + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    shutil.rmtree(state, ignore_errors=True)


def _remove_rules(tag: str) -> None:
    for table, chain in (("nat", "POSTROUTING"), ("filter", "FORWARD")):
        listed = subprocess.run(["iptables", "-t", table, "-S", chain], capture_output=True, text=True).stdout
        for line in listed.splitlines():
            if f'"{tag}"' in line and line.startswith("-A "):
                # the rule exactly as listed, with -A turned into -D
                subprocess.run(["iptables", "-t", table, "-D", *shlex.split(line[3:])], capture_output=True)


def reap_stale() -> None:
    """Stops and removes TLS engines whose pytest process is gone (a run killed before its teardown)."""
    for state in glob.glob(os.path.join(STATE_ROOT, PREFIX + "*")):
        try:
            with open(os.path.join(state, OWNER)) as fh:
                owner = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        if os.path.exists(f"/proc/{owner}"):
            continue
        try:
            with open(os.path.join(state, "docker.pid")) as fh:
                pid = int(fh.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                mine = state.encode() in fh.read()
            if mine:
                os.kill(pid, signal.SIGTERM)
                for _ in range(120):
                    if not os.path.exists(f"/proc/{pid}"):
                        break
                    time.sleep(0.5)
        except (OSError, ValueError):
            pass
        remove_state(state, f"slim-tls-engine {os.path.basename(state)}")
