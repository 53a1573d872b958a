"""A RunProfile as people and tools use it: `docker run` arguments, a compose service fragment, a Kubernetes
container securityContext with its emptyDir volumes, and the report's `hardening.run_profile`."""

from __future__ import annotations

import posixpath

from slim.harden.profile import RunProfile
from slim.harden.seccomp import allowed_count


def docker_args(profile: RunProfile, seccomp_file: str) -> list[str]:
    """What goes between `docker run` and the image name. `--init` is there because the profile was verified
    with the engine's init as PID 1 (it forwards signals and reaps children)."""
    args = ["--init"]
    if profile.user:
        args += ["--user", profile.user]
    if profile.read_only:
        args.append("--read-only")
    for t in profile.tmpfs:
        args += ["--tmpfs", f"{t.path}:{t.options}"]
    args += ["--cap-drop", "ALL"]
    for cap in profile.cap_add:
        args += ["--cap-add", cap]
    if profile.no_new_privileges:
        args += ["--security-opt", "no-new-privileges"]
    if profile.syscalls is not None:
        args += ["--security-opt", f"seccomp={seccomp_file}"]
    return args


def compose(profile: RunProfile, seccomp_file: str) -> dict:
    """The same settings as a docker compose service fragment."""
    service: dict = {"init": True}
    if profile.user:
        service["user"] = profile.user
    service["read_only"] = profile.read_only
    if profile.tmpfs:
        service["tmpfs"] = [f"{t.path}:{t.options}" for t in profile.tmpfs]
    service["cap_drop"] = ["ALL"]
    if profile.cap_add:
        service["cap_add"] = list(profile.cap_add)
    service["security_opt"] = (["no-new-privileges:true"] if profile.no_new_privileges else []) + (
        [f"seccomp={seccomp_file}"] if profile.syscalls is not None else [])
    return service


def kubernetes(profile: RunProfile, seccomp_file: str, uid: int | None) -> dict:
    """A container's securityContext, its volumeMounts, and the pod's emptyDir volumes for the writable paths.
    The seccomp profile is named as kubelet finds it: relative to its seccomp directory."""
    context: dict = {
        "readOnlyRootFilesystem": profile.read_only,
        "allowPrivilegeEscalation": not profile.no_new_privileges,
        "capabilities": {"drop": ["ALL"], **({"add": list(profile.cap_add)} if profile.cap_add else {})},
        "seccompProfile": {"type": "Localhost", "localhostProfile": f"slim/{posixpath.basename(seccomp_file)}"}
        if profile.syscalls is not None else {"type": "RuntimeDefault"},
    }
    if uid is not None:
        context.update({"runAsNonRoot": uid != 0, "runAsUser": uid})
    names = [f"slim-tmp-{n}" for n in range(len(profile.tmpfs))]
    return {
        "securityContext": context,
        "volumeMounts": [{"name": n, "mountPath": t.path} for n, t in zip(names, profile.tmpfs)],
        "volumes": [{"name": n, "emptyDir": {"medium": "Memory"}} for n in names],
    }


def run_profile_json(profile: RunProfile, seccomp_file: str, uid: int | None, verified: bool | None,
                     diagnosis: list[str]) -> dict:
    allowed, total = allowed_count(profile.syscalls or ())
    return {
        "docker_args": docker_args(profile, seccomp_file),
        "compose": compose(profile, seccomp_file),
        "kubernetes": kubernetes(profile, seccomp_file, uid),
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
    }
