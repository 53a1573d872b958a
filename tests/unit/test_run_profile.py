"""The run profile's pure parts: the syscall table against the kernel header, the seccomp JSON, and the
derivation of tmpfs directories, capabilities and no-new-privileges from traces of nginx-like runs (the paths,
users and calls are those the nginx sample's traced run shows)."""

import io
import json
import re

import pytest

from slim.harden.profile import derive
from slim.harden.render import compose, docker_args, kubernetes
from slim.harden.runtime import RUNTIME_SYSCALLS
from slim.harden.seccomp import ENOSYS, EPERM, WITH_FALLBACK, allowed_count, profile
from slim.harden.syscalls import X86_64
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.model import CREATE, DELETE, EXEC, READ, WRITE, FileAccess, RunConfig, Trace
from tarbuild import layer

HEADER = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"  # Debian's linux-libc-dev, installed by scripts/setup


def test_the_table_is_the_kernel_headers_in_number_order():
    with open(HEADER) as fh:
        numbered = sorted((int(n), name) for name, n in re.findall(r"#define __NR_(\w+) (\d+)", fh.read()))
    names = [name for _, name in numbered]
    # the header may be newer than the table: the table is its prefix, and nothing in it is made up
    assert names[:len(X86_64)] == list(X86_64)
    assert len(set(X86_64)) == len(X86_64) > 330


def test_seccomp_json_denies_known_calls_with_eperm_and_the_rest_with_enosys():
    doc = profile({"read", "write", "exit_group", "statx"})
    assert doc["defaultAction"] == "SCMP_ACT_ERRNO" and doc["defaultErrnoRet"] == ENOSYS
    assert doc["archMap"] == [{"architecture": "SCMP_ARCH_X86_64",
                               "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}]
    allow, deny = doc["syscalls"]
    assert allow == {"names": ["exit_group", "read", "statx", "write"], "action": "SCMP_ACT_ALLOW"}
    assert deny["action"] == "SCMP_ACT_ERRNO" and deny["errnoRet"] == EPERM
    assert "openat" in deny["names"] and "read" not in deny["names"]
    # calls a libc falls back from must not get EPERM: they fall through to the default ENOSYS
    assert not WITH_FALLBACK & set(deny["names"]) and "clone3" not in allow["names"]
    assert allowed_count({"read", "write", "not_a_call"}) == (2, len(X86_64))
    json.dumps(doc)  # plain JSON


def test_the_runtime_list_is_known_calls_only():
    assert RUNTIME_SYSCALLS and RUNTIME_SYSCALLS <= set(X86_64)
    assert {"execve", "exit_group"} <= RUNTIME_SYSCALLS  # the runtime execs the init, which exits


@pytest.fixture
def nginx_root(ws):
    """The nginx sample's layout: who owns what, as Debian's packages install it."""
    data = layer(
        ("usr/sbin/nginx", "file", (b"\x7fELF", 0o755)), ("usr/bin/ping", "file", (b"\x7fELF", 0o4755)),
        ("etc/nginx/nginx.conf", "file", b"user www-data;\n"), ("etc/ssl/private", "dir", (0o710, 0, 101)),
        ("etc/ssl/private/key.pem", "file", (b"key", 0o640, 0, 101)),
        ("etc/app/secret.conf", "file", (b"only its owner reads it", 0o600, 33, 33)),
        ("run", "dir"), ("tmp", "dir", (0o1777, 0, 0)), ("var/lib/nginx", "dir"),
        ("var/log/nginx", "dir", (0o755, 33, 4)), ("var/log/nginx/error.log", "file", (b"", 0o640, 33, 4)),
        ("var/www/html/index.html", "file", b"<h1>hi</h1>"), ("var/cache/app/seed.dat", "file", b"seed"),
        ("data", "dir"),
    )
    return flatten([unpack_layer(io.BytesIO(data), ws.path("layers", "0.pack"), "0")])


NGINX = RunConfig.from_document({"Cmd": ["nginx", "-g", "daemon off;"], "ExposedPorts": {"80/tcp": {}},
                                 "Volumes": {"/data": {}}})
NGINX_CALLS = (("bind", 1), ("chown", 2), ("epoll_wait", 9), ("kill", 1), ("openat", 40), ("setgid", 1),
               ("setgroups", 1), ("setuid", 1))


def nginx_trace(*extra, config=NGINX, syscalls=NGINX_CALLS, **fields):
    accesses = [
        FileAccess("/usr/sbin/nginx", EXEC, True), FileAccess("/etc/nginx/nginx.conf", READ, True),
        FileAccess("/run/nginx.pid", CREATE, True), FileAccess("/var/lib/nginx/body", CREATE, True),
        FileAccess("/var/log/nginx/error.log", WRITE, True), FileAccess("/var/www/html/index.html", READ, True),
        FileAccess("/proc/self/fd/3", WRITE, True), FileAccess("/dev/null", WRITE, True),
        FileAccess("/var/lib/nginx/proxy", CREATE, False),  # failed: says nothing about the run
        *extra,
    ]
    fields = {"uids": (33,), "gids": (33,), "bound_ports": (80, 8080), **fields}
    return Trace(accesses=tuple(accesses), syscalls=syscalls, config=config, argv=("nginx",), **fields)


KEPT = {"/usr/sbin/nginx", "/etc/nginx/nginx.conf", "/var/log/nginx/error.log", "/var/www/html/index.html",
        "/var/cache/app/seed.dat"}


def test_nginx_gets_a_read_only_root_with_tmpfs_where_it_writes(nginx_root):
    p = derive(nginx_trace(FileAccess("/data/upload.bin", CREATE, True)), nginx_root, NGINX, KEPT)
    assert p.read_only and not p.notes
    # created files give their directory; an existing directory the app created things in is itself the mount;
    # the pseudo filesystems and the declared volume are left alone; owner and mode come from the image
    assert [(t.path, t.options) for t in p.tmpfs] == [
        ("/run", "rw,mode=0755"), ("/var/lib/nginx", "rw,mode=0755"), ("/var/log/nginx", "rw,mode=0755,uid=33,gid=4")]


def test_nginx_keeps_only_the_capabilities_its_calls_show(nginx_root):
    p = derive(nginx_trace(), nginx_root, NGINX, KEPT)
    assert p.cap_add == ("CHOWN", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID")
    why = dict(p.why)
    assert "80" in why["cap NET_BIND_SERVICE"] and "8080" not in why["cap NET_BIND_SERVICE"]
    assert "33" in why["cap SETUID"]
    assert p.no_new_privileges
    assert {"bind", "setuid", "epoll_wait"} <= p.syscalls and RUNTIME_SYSCALLS <= p.syscalls


def test_an_unprivileged_app_keeps_no_capability(nginx_root):
    config = RunConfig.from_document({"Cmd": ["/app"], "User": "10001"})
    p = derive(nginx_trace(config=config, syscalls=(("openat", 3), ("kill", 1)), uids=(), gids=(), bound_ports=(8080,)),
               nginx_root, config, KEPT)
    assert p.cap_add == ()  # kill without user switches signals its own processes: no KILL


def test_root_reading_a_file_only_its_other_owner_may_read_needs_dac_override(nginx_root):
    secret = FileAccess("/etc/app/secret.conf", READ, True)
    assert "DAC_OVERRIDE" in derive(nginx_trace(secret), nginx_root, NGINX, KEPT).cap_add
    # a group-readable key in a root-owned directory is root's own: no override
    key = FileAccess("/etc/ssl/private/key.pem", READ, True)
    assert "DAC_OVERRIDE" not in derive(nginx_trace(key), nginx_root, NGINX, KEPT).cap_add
    as_user = RunConfig.from_document({"Cmd": ["/app"], "User": "33"})
    assert "DAC_OVERRIDE" not in derive(nginx_trace(secret, config=as_user), nginx_root, as_user, KEPT).cap_add


def test_writing_next_to_image_files_keeps_the_root_writable(nginx_root):
    p = derive(nginx_trace(FileAccess("/var/cache/app/new.dat", CREATE, True)), nginx_root, NGINX, KEPT)
    assert not p.read_only and p.tmpfs == ()
    assert any("/var/cache/app" in n for n in p.notes)


def test_on_a_writable_root_the_image_files_count_for_dac_override(nginx_root):
    """No tmpfs is mounted when the root stays writable: the error log under the would-be tmpfs is the image's
    (www-data's, 0640), and root writing it needs DAC_OVERRIDE."""
    log = FileAccess("/var/log/nginx/error.log", WRITE, True)
    assert "DAC_OVERRIDE" not in derive(nginx_trace(log), nginx_root, NGINX, KEPT).cap_add  # a fresh file on tmpfs
    beside_image_files = FileAccess("/var/cache/app/new.dat", CREATE, True)  # keeps the root writable
    p = derive(nginx_trace(log, beside_image_files), nginx_root, NGINX, KEPT)
    assert not p.read_only and "DAC_OVERRIDE" in p.cap_add


def test_temporary_files_get_a_sticky_tmp(nginx_root):
    p = derive(nginx_trace(FileAccess("/tmp/x1", CREATE, True), FileAccess("/tmp/x1", DELETE, True)),
               nginx_root, NGINX, KEPT)
    assert ("/tmp", "rw,mode=1777") in [(t.path, t.options) for t in p.tmpfs]


def test_running_a_setuid_program_keeps_new_privileges(nginx_root):
    p = derive(nginx_trace(FileAccess("/usr/bin/ping", EXEC, True)), nginx_root, NGINX, KEPT | {"/usr/bin/ping"})
    assert not p.no_new_privileges and "/usr/bin/ping" in dict(p.why)["no-new-privileges off"]


def test_renderings_say_the_same_thing(nginx_root):
    p = derive(nginx_trace(), nginx_root, NGINX, KEPT)
    args = docker_args(p, "/out/nginx-seccomp.json")
    assert args[:2] == ["--init", "--read-only"]
    assert args[args.index("--cap-drop") + 1] == "ALL" and args.count("--cap-add") == 5
    assert args[-4:] == ["--security-opt", "no-new-privileges", "--security-opt", "seccomp=/out/nginx-seccomp.json"]
    service = compose(p, "/out/nginx-seccomp.json")
    assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert service["tmpfs"] == [a for prev, a in zip(args, args[1:]) if prev == "--tmpfs"]
    k8s = kubernetes(p, "/out/nginx-seccomp.json", 0)
    ctx = k8s["securityContext"]
    assert ctx["readOnlyRootFilesystem"] and ctx["allowPrivilegeEscalation"] is False
    assert ctx["runAsNonRoot"] is False and ctx["capabilities"]["add"] == list(p.cap_add)
    assert ctx["seccompProfile"] == {"type": "Localhost", "localhostProfile": "slim/nginx-seccomp.json"}
    assert [m["mountPath"] for m in k8s["volumeMounts"]] == [t.path for t in p.tmpfs]
    assert {v["name"] for v in k8s["volumes"]} == {m["name"] for m in k8s["volumeMounts"]}
