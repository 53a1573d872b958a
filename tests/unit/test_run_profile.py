"""The run profile's pure parts: the syscall table against the kernel header, the seccomp JSON, and the
derivation of tmpfs directories, capabilities and no-new-privileges from traces of nginx-like runs (the paths,
users and calls are those the nginx sample's traced run shows)."""

import dataclasses
import io
import json
import re
import shlex

import pytest

from slim.harden.profile import derive
from slim.harden.render import RunLine, command, compose, docker_args, kubernetes, split_argv, unpublished
from slim.harden.runtime import RUNTIME_SYSCALLS
from slim.harden.seccomp import ENOSYS, EPERM, WITH_FALLBACK, allowed_count, profile
from slim.harden.syscalls import X86_64
from slim.image.flatten import flatten
from slim.image.layer import unpack_layer
from slim.engine.base import ContainerSpec, Mount
from slim.harden.seccomp import profile_json
from slim.model import CREATE, DELETE, EXEC, READ, WRITE, FileAccess, RunConfig, Trace
from slim.run.options import RunOptions
from slim.run.probes import ProbePlan
from slim.run.runner import container_spec
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


# The printed run line is the verified run: both come from slim.run.runner.container_spec, the printed one with
# the seccomp FILE where the run passes the same JSON inline, and the output's tag for the image.

WEB = RunConfig.from_document({"Entrypoint": ["python3"], "Cmd": ["/srv/app/server.py"], "User": "app",
                               "WorkingDir": "/srv/app", "ExposedPorts": {"8080/tcp": {}}})
OVERRIDES = RunOptions("slim-verify/tmp:1", entrypoint=("/usr/bin/python3", "-u"), cmd=("serve.py", "--port", "8080"),
                       env=("GREETING=hello world", "QUOTE=it's \"x\""), user="65532:65532", workdir="/data",
                       mounts=("/srv/site:/data:ro", "cache:/var/cache/app"),
                       probes=ProbePlan(http_paths=("/greeting",)))


def web_profile(nginx_root):
    return derive(nginx_trace(), nginx_root, NGINX, KEPT)


def parse_docker_run(argv: list[str]) -> tuple[ContainerSpec, list[str]]:
    """The container a `docker run` command line asks for, read back independently of the renderer."""
    assert argv[1] == "run"
    fields: dict = {"env": [], "mounts": [], "tmpfs": [], "cap_drop": [], "cap_add": [], "security_opt": [],
                    "publish": [], "init": False, "read_only": False, "user": None, "workdir": None}
    entrypoint, rest = None, iter(argv[2:])
    many = {"-e": "env", "--tmpfs": "tmpfs", "--cap-drop": "cap_drop", "--cap-add": "cap_add",
            "--security-opt": "security_opt"}
    for arg in rest:
        if arg in ("--init", "--read-only"):
            fields[arg[2:].replace("-", "_")] = True
        elif arg in many:
            fields[many[arg]].append(next(rest))
        elif arg == "-v":
            source, target, *ro = next(rest).split(":")
            fields["mounts"].append(Mount(source, target, ro == ["ro"]))
        elif arg == "-p":
            fields["publish"].append(int(next(rest).split(":")[1]))
        elif arg in ("--user", "--workdir"):
            fields[arg[2:]] = next(rest)
        elif arg == "--entrypoint":
            entrypoint = next(rest)
        else:
            assert not arg.startswith("-"), arg
            image, after = arg, list(rest)
            break
    fields["tmpfs"] = [tuple(t.split(":", 1)) for t in fields["tmpfs"]]
    argv_run = ([entrypoint] + after) if entrypoint else (list(WEB.entrypoint) + (after or list(WEB.cmd)))
    spec = ContainerSpec(image=image, entrypoint=tuple(argv_run), **{k: tuple(v) if isinstance(v, list) else v
                                                                      for k, v in fields.items()})
    return spec, after


@pytest.mark.parametrize("publishes", [False, True], ids=["bridge-address", "published"])
def test_the_printed_command_asks_for_exactly_the_verified_container(nginx_root, publishes):
    profile = web_profile(nginx_root)
    options = dataclasses.replace(OVERRIDES, profile=profile)
    verified = container_spec(options, WEB, remote=False, publishes=publishes)  # what the hardened run creates
    printed = container_spec(dataclasses.replace(options, image="web:slim"), WEB, False, publishes,
                             seccomp_file="/out/web seccomp.json")
    line = RunLine("docker", printed, WEB.entrypoint, WEB.cmd, (8080,))
    argv = shlex.split(shlex.join(command(line)))  # through a shell, as the user pastes it
    parsed, _ = parse_docker_run(argv)
    inline = "seccomp=" + profile_json(profile.syscalls)
    assert inline in verified.security_opt  # the run gets the JSON itself; the printed line names its file
    assert parsed == dataclasses.replace(verified, image="web:slim", security_opt=tuple(
        "seccomp=/out/web seccomp.json" if o == inline else o for o in verified.security_opt))
    assert argv[:5] == ["docker", "run", "--init", "--entrypoint", "/usr/bin/python3"]
    assert argv[argv.index("web:slim"):] == ["web:slim", "-u", "serve.py", "--port", "8080"]
    assert unpublished(line) == ([] if publishes else [8080])


@pytest.mark.parametrize("argv, expected", [
    (("python3", "/srv/app/server.py"), (None, [])),  # the image's own: no override
    (("python3", "other.py"), (None, ["other.py"])),  # only the Cmd differs: arguments after the image
    (("python3",), ("python3", [])),  # the Cmd dropped: only --entrypoint does that
    (("/bin/sh", "-c", "echo hi"), ("/bin/sh", ["-c", "echo hi"])),  # one word for --entrypoint, the rest after
])
def test_an_argv_becomes_the_fewest_overrides_that_start_it(argv, expected):
    assert split_argv(argv, WEB.entrypoint, WEB.cmd) == expected
    assert split_argv(("/app/run", "x"), (), ("/app/run",)) == (None, ["/app/run", "x"])  # no Entrypoint


def test_compose_and_the_pod_hold_the_same_container(nginx_root):
    profile = web_profile(nginx_root)
    options = dataclasses.replace(OVERRIDES, image="reg:5000/team/web:1.2-slim", profile=profile)
    spec = container_spec(options, WEB, False, False, seccomp_file="/out/web-seccomp.json")
    line = RunLine("podman", spec, WEB.entrypoint, WEB.cmd, (8080,), (("nofile", 1024),), uid=65532, gid=65532)
    assert command(line)[:2] == ["podman", "run"] and "--ulimit" in docker_args(line)
    service = compose(line)
    assert (service["image"], service["entrypoint"], service["command"]) == (
        "reg:5000/team/web:1.2-slim", ["/usr/bin/python3"], ["-u", "serve.py", "--port", "8080"])
    assert service["environment"] == list(spec.env) and service["working_dir"] == "/data"
    assert service["volumes"] == ["/srv/site:/data:ro", "cache:/var/cache/app"] and service["user"] == "65532:65532"
    assert service["ulimits"] == {"nofile": {"soft": 1024, "hard": 1024}} and "ports" not in service
    assert service["tmpfs"] == [f"{p}:{o}" for p, o in spec.tmpfs] and service["init"] is True
    assert service["security_opt"] == ["no-new-privileges:true", "seccomp=/out/web-seccomp.json"]
    pod = kubernetes(line)
    assert (pod["apiVersion"], pod["kind"], pod["metadata"]["name"]) == ("v1", "Pod", "web-1-2-slim")
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["/usr/bin/python3"] and container["args"] == ["-u", "serve.py", "--port", "8080"]
    assert container["env"] == [{"name": "GREETING", "value": "hello world"}, {"name": "QUOTE", "value": "it's \"x\""}]
    assert container["workingDir"] == "/data" and container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"], "add": list(spec.cap_add)}
    assert (ctx["runAsUser"], ctx["runAsGroup"], ctx["runAsNonRoot"]) == (65532, 65532, True)
    assert ctx["seccompProfile"] == {"type": "Localhost", "localhostProfile": "web-seccomp.json"}
    assert pod["metadata"]["annotations"] == {
        "container.seccomp.security.alpha.kubernetes.io/web-1-2-slim": "localhost/web-seccomp.json"}
    assert pod["spec"]["shareProcessNamespace"] is True  # the pause process is PID 1, as the engine's init was
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert {p: mounts[p]["emptyDir"] for p, _ in spec.tmpfs} == {p: {"medium": "Memory"} for p, _ in spec.tmpfs}
    assert mounts["/data"]["hostPath"] == {"path": "/srv/site"}
    assert mounts["/var/cache/app"]["persistentVolumeClaim"] == {"claimName": "cache"}
    assert [m.get("readOnly", False) for m in container["volumeMounts"] if m["mountPath"] in ("/data", "/var/cache/app")
            ] == [True, False]
    assert "restartPolicy" not in pod["spec"]  # a server: restarted like any
    json.dumps(pod)


def test_a_job_without_a_seccomp_list_runs_once_under_the_runtime_default(nginx_root):
    profile = dataclasses.replace(web_profile(nginx_root), syscalls=None)
    spec = container_spec(RunOptions("job:slim", profile=profile), WEB, False, False, seccomp_file="/out/x.json")
    line = RunLine("docker", spec, WEB.entrypoint, WEB.cmd, batch=True)
    assert not any(a.startswith("seccomp=") for a in docker_args(line))
    assert command(line)[-1] == "job:slim"  # the image's own argv: nothing after the image
    pod = kubernetes(line)
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "command" not in pod["spec"]["containers"][0] and "args" not in pod["spec"]["containers"][0]


def test_the_build_reports_the_container_its_hardened_run_created(tmp_path, monkeypatch):
    """The whole pipeline on the in-memory engine: the spec of the last container (the run under the profile)
    is the report's run line, but for the seccomp file."""
    from fake_engine import Behaviour, FakeEngine
    from slim import pipeline
    from slim.image.reference import parse_reference
    from slim.image.sink import Output
    from slim.plan.keep import PlanOptions
    from slim.progress import Phases
    from slim.workspace import Workspace
    from test_wiring import APP, TRACE

    engine, created = FakeEngine(), []
    real_create = engine.create
    monkeypatch.setattr(engine, "create", lambda spec: created.append(spec) or real_create(spec))
    engine.add_image("job:1", [APP], Behaviour(exit_code=0, stdout=b"ok\n", trace=TRACE))
    options = RunOptions("job:1", cmd=("/app/run",), env=("MODE=fast lane",), workdir="/app", user="0:0")
    seccomp = str(tmp_path / "job-seccomp.json")
    with Workspace() as ws:
        opts = pipeline.BuildOptions(options, PlanOptions(), Output("docker"), ("job:1-slim",), seccomp_file=seccomp)
        report = pipeline.build(parse_reference("job:1"), opts, ws, engine, Phases())
    hardened = report.facts.run_profile
    assert hardened.verified is True
    run_spec = created[-1]
    with open(seccomp) as fh:
        assert run_spec.security_opt[-1] == "seccomp=" + fh.read()  # the same JSON, inline
    assert hardened.line.spec == dataclasses.replace(run_spec, security_opt=(*run_spec.security_opt[:-1],
                                                                              "seccomp=" + seccomp))
    doc = report.to_json()["hardening"]["run_profile"]
    assert doc["command"] == [engine.name, "run", *doc["docker_args"], "job:1-slim", "/app/run"]
    assert ["-e", "MODE=fast lane"] == doc["docker_args"][doc["docker_args"].index("-e"):][:2]
    assert {"--workdir", "/app", "--user", "0:0"} <= set(doc["docker_args"])
    # the terminal and the CI summary print that command, shell-quoted, whole
    from rich.console import Console

    from slim.cli.render import print_build
    from slim.report.ci import summary_markdown

    console = Console(file=io.StringIO(), width=60, color_system=None)
    print_build(report, console)
    assert shlex.join(doc["command"]) in [line.strip() for line in console.file.getvalue().splitlines()]
    assert f"`{shlex.join(doc['command'])}`" in summary_markdown(report.to_json(), [])
