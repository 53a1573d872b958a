"""The verified container as people and tools start it: a `docker run` (or `podman run`) command, a compose
service, a Kubernetes Pod manifest, and the report's `hardening.run_profile`.

Everything here renders one value, `RunLine`: the ContainerSpec the hardened verification created (built by the
same function, slim.run.runner.container_spec), with the output tag for the image and the seccomp profile's file
for the same JSON the run passed inline. So the printed command cannot drift from the run that was verified.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from slim.engine.base import ContainerSpec
from slim.harden.profile import RunProfile
from slim.harden.seccomp import allowed_count

# Podman (4.3) reads a pod's seccomp profile from this annotation only (and takes one path component after
# "localhost/"); Kubernetes reads the securityContext field. Both are given, and name the same file.
SECCOMP_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


@dataclass(frozen=True)
class RunLine:
    """The container that passed (or is to pass) the hardened verification, as a user starts it."""

    runner: str  # the engine's command: "docker" or "podman" (podman run takes the same options)
    spec: ContainerSpec  # `entrypoint` is the full argv the container runs
    image_entrypoint: tuple[str, ...] = ()  # the image's own Entrypoint and Cmd: what needs no override
    image_cmd: tuple[str, ...] = ()
    reached: tuple[int, ...] = ()  # the container ports the probes went to
    ulimits: tuple[tuple[str, int], ...] = ()  # limits the engine set on every container (Podman here)
    uid: int | None = None  # the numeric user and group the container runs as (Kubernetes needs numbers)
    gid: int | None = None
    batch: bool = False  # the run ended when the app exited (a job, not a server)


def split_argv(argv: tuple[str, ...], entrypoint: tuple[str, ...], cmd: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """(the `--entrypoint` to give, or None; the arguments after the image) that make `docker run` start `argv`
    in an image with this Entrypoint and Cmd. `--entrypoint` drops the image's Cmd and takes one word."""
    words = list(argv)
    if words == list(entrypoint) + list(cmd):
        return None, []
    if entrypoint and words[:len(entrypoint)] == list(entrypoint) and len(words) > len(entrypoint):
        return None, words[len(entrypoint):]
    if not entrypoint and words:
        return None, words
    return words[0], words[1:]


def _split(line: RunLine) -> tuple[str | None, list[str]]:
    return split_argv(line.spec.entrypoint, line.image_entrypoint, line.image_cmd)


def docker_args(line: RunLine) -> list[str]:
    """What goes between `docker run` and the image name. `--init` is there because the verified run had the
    engine's init as PID 1 (it forwards signals and reaps children); the profile's options come last."""
    spec, (entrypoint, _) = line.spec, _split(line)
    args = ["--init"] if spec.init else []
    if entrypoint is not None:
        args += ["--entrypoint", entrypoint]
    if spec.user:
        args += ["--user", spec.user]
    if spec.workdir:
        args += ["--workdir", spec.workdir]
    for item in spec.env:
        args += ["-e", item]
    for m in spec.mounts:
        args += ["-v", f"{m.source}:{m.target}" + (":ro" if m.read_only else "")]
    for port in spec.publish:
        args += ["-p", f"{port}:{port}"]
    for name, value in line.ulimits:
        args += ["--ulimit", f"{name}={value}:{value}"]
    if spec.read_only:
        args.append("--read-only")
    for path, options in spec.tmpfs:
        args += ["--tmpfs", f"{path}:{options}"]
    for cap in spec.cap_drop:
        args += ["--cap-drop", cap]
    for cap in spec.cap_add:
        args += ["--cap-add", cap]
    for option in spec.security_opt:
        args += ["--security-opt", option]
    return args


def command(line: RunLine) -> list[str]:
    """The whole command: runner, `run`, the options, the image, then what replaces the image's Cmd."""
    return [line.runner, "run", *docker_args(line), line.spec.image, *_split(line)[1]]


def unpublished(line: RunLine) -> list[int]:
    """Ports the probes reached on the container's own address, which the command does not publish."""
    return [p for p in line.reached if p not in line.spec.publish]


def compose(line: RunLine) -> dict:
    """The same container as a docker compose service."""
    spec, (entrypoint, rest) = line.spec, _split(line)
    service: dict = {"image": spec.image, "init": spec.init}
    if entrypoint is not None:
        service["entrypoint"] = [entrypoint]  # compose, like docker run, then drops the image's Cmd
    if rest:
        service["command"] = rest
    optional = {"user": spec.user, "working_dir": spec.workdir, "environment": list(spec.env),
                "volumes": [f"{m.source}:{m.target}" + (":ro" if m.read_only else "") for m in spec.mounts],
                "ports": [f"{p}:{p}" for p in spec.publish],
                "ulimits": {name: {"soft": value, "hard": value} for name, value in line.ulimits}}
    service.update({key: value for key, value in optional.items() if value})
    service["read_only"] = spec.read_only
    if spec.tmpfs:
        service["tmpfs"] = [f"{path}:{options}" for path, options in spec.tmpfs]
    service["cap_drop"] = list(spec.cap_drop)
    if spec.cap_add:
        service["cap_add"] = list(spec.cap_add)
    service["security_opt"] = [f"{o}:true" if o == "no-new-privileges" else o for o in spec.security_opt]
    return service


def pod_name(image: str) -> str:
    """A Kubernetes object name from an image name: "reg:5000/team/web:1.2-slim" -> "web-1-2-slim"."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9]+", "-", last).strip("-")[:63].strip("-") or "app"


def kubernetes(line: RunLine) -> dict:
    """A complete Pod manifest of the same container. The seccomp profile is named as the kubelet finds it:
    relative to its seccomp directory (/var/lib/kubelet/seccomp; `podman kube play --seccomp-profile-root`)."""
    spec, (entrypoint, rest) = line.spec, _split(line)
    name = pod_name(spec.image)
    seccomp = _seccomp_file(spec)
    container: dict = {"name": name, "image": spec.image}
    if entrypoint is not None:
        container["command"] = [entrypoint]  # Kubernetes' command replaces the Entrypoint and drops the Cmd
    if rest:
        container["args"] = rest
    if spec.env:
        container["env"] = [{"name": k, "value": v} for k, _, v in (e.partition("=") for e in spec.env)]
    if spec.workdir:
        container["workingDir"] = spec.workdir
    if line.reached:
        container["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in line.reached]
    container["securityContext"] = _security_context(line, seccomp)
    mounts, volumes = _volumes(spec)
    if mounts:
        container["volumeMounts"] = mounts
    annotations = {SECCOMP_ANNOTATION + name: "localhost/" + seccomp} if seccomp else {}
    pod_spec: dict = {"containers": [container]}
    if spec.init:
        # a pod has no --init; with one process namespace the pod's pause process is PID 1 instead: it reaps
        # orphans, and the app, not PID 1, gets the stop signal's default action
        pod_spec["shareProcessNamespace"] = True
    if line.batch:
        pod_spec["restartPolicy"] = "Never"  # the verified run ended when the job did
    if volumes:
        pod_spec["volumes"] = volumes
    metadata = {"name": name, **({"annotations": annotations} if annotations else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


def _seccomp_file(spec: ContainerSpec) -> str | None:
    files = [o[len("seccomp="):] for o in spec.security_opt if o.startswith("seccomp=")]
    return posixpath.basename(files[0]) if files else None


def _security_context(line: RunLine, seccomp: str | None) -> dict:
    spec = line.spec
    caps: dict = {"drop": list(spec.cap_drop)} if spec.cap_drop else {}
    if spec.cap_add:
        caps["add"] = list(spec.cap_add)
    context: dict = {
        "readOnlyRootFilesystem": spec.read_only,
        "allowPrivilegeEscalation": "no-new-privileges" not in spec.security_opt,
        "capabilities": caps,
        "seccompProfile": {"type": "Localhost", "localhostProfile": seccomp} if seccomp else {"type": "RuntimeDefault"},
    }
    if line.uid is not None:
        context.update({"runAsNonRoot": line.uid != 0, "runAsUser": line.uid})
    if line.gid is not None:
        context["runAsGroup"] = line.gid
    return context


def _volumes(spec: ContainerSpec) -> tuple[list[dict], list[dict]]:
    """volumeMounts and volumes: a memory-backed emptyDir for each tmpfs, a hostPath for a host directory, a
    claim named like the engine volume for a named volume."""
    mounts: list[dict] = []
    volumes: list[dict] = []
    for n, (path, _) in enumerate(spec.tmpfs):
        mounts.append({"name": f"slim-tmp-{n}", "mountPath": path})
        volumes.append({"name": f"slim-tmp-{n}", "emptyDir": {"medium": "Memory"}})
    for n, m in enumerate(spec.mounts):
        mounts.append({"name": f"slim-mount-{n}", "mountPath": m.target, **({"readOnly": True} if m.read_only else {})})
        source = {"hostPath": {"path": m.source}} if m.source.startswith("/") else {
            "persistentVolumeClaim": {"claimName": m.source}}
        volumes.append({"name": f"slim-mount-{n}", **source})
    return mounts, volumes


def run_profile_json(profile: RunProfile, seccomp_file: str, line: RunLine, verified: bool | None,
                     diagnosis: list[str], differences: list[str]) -> dict:
    """The report's `hardening.run_profile` (slim.build/1: keys added since come last)."""
    allowed, total = allowed_count(profile.syscalls or ())
    return {
        "docker_args": docker_args(line),
        "compose": compose(line),
        "kubernetes": kubernetes(line),
        "seccomp_profile": seccomp_file if profile.syscalls is not None else None,
        "syscalls": {"allowed": allowed, "known": total, "names": sorted(profile.syscalls)}
        if profile.syscalls is not None else None,
        "read_only": profile.read_only,
        "tmpfs": [t.path for t in profile.tmpfs],
        "capabilities": list(profile.cap_add),
        "no_new_privileges": profile.no_new_privileges,
        "user": profile.user,
        "why": [{"what": what, "why": why} for what, why in profile.why],
        "notes": list(profile.notes),
        "verified": verified,
        "diagnosis": diagnosis,
        "differences": differences,
        "command": command(line),
        "ports": {"reached": list(line.reached), "published": list(line.spec.publish)},
    }
