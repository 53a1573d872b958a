"""Prove a run profile by running the slim image under it, and when that run differs from the traced one,
find which part of the profile broke it.

The diagnosis loosens one part at a time (seccomp, the read-only root, no-new-privileges, the dropped
capabilities: back to the engine's default set) and runs again. For seccomp it then finds the calls the app
was denied, by adding denied calls back in halves until the run passes (each step is one run, so the search
is bounded).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from slim.engine import Engine, Facts
from slim.errors import EngineError, TraceError
from slim.harden.profile import RunProfile
from slim.harden.render import RunLine
from slim.harden.syscalls import X86_64
from slim.model import ProbeResult, RunConfig, Trace
from slim.run.options import RunOptions, effective_mode, reached_ports, target_ports
from slim.run.runner import container_spec, run
from slim.run.verify import differences

# the capabilities a container gets when nobody drops any (Docker's default set): "ALL" cannot be granted
# where the engine itself lacks some (this kind of machine has no CAP_SYS_RESOURCE)
ENGINE_DEFAULT_CAPS = ("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                       "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT")
MAX_SECCOMP_RUNS = 24  # a bisection over the ~250 denied calls needs far fewer when one or two are missing


@dataclass(frozen=True)
class HardenedRun:
    """Whether the slim image behaved the same under its run profile; when not, what differed and which part of the
    profile the diagnosis blames, for the report and the printed run line."""

    passed: bool
    differences: tuple[str, ...] = ()
    diagnosis: tuple[str, ...] = ()  # which part of the profile broke the run, and what it lacks


def verify_under(engine: Engine, options: RunOptions, image: str, traced: Trace, profile: RunProfile) -> HardenedRun:
    """Run the slim image under `profile` with the traced run's probes and compare with the traced run; on a
    difference, diagnose. An engine that cannot even start it under the profile is a failed run, never a pass."""
    try:
        diffs = _differences(engine, options, image, traced, profile)
    except (EngineError, TraceError) as exc:
        # the engine could not even run the container under the profile: a runtime other than the one
        # slim/harden/runtime.py was measured on may need calls outside that list
        return HardenedRun(False, (str(exc),), ("the container did not run under the profile: the container "
                                                "runtime may need system calls slim has not measured",))
    if not diffs:
        return HardenedRun(True)
    return HardenedRun(False, tuple(diffs), tuple(diagnose(engine, options, image, traced, profile)))


def run_line(engine: Facts, options: RunOptions, config: RunConfig, profile: RunProfile, image: str,
             seccomp_file: str, ids: tuple[int | None, int | None], probes: tuple[ProbeResult, ...] = ()) -> RunLine:
    """The container `verify_under` runs, as the user starts it: built by the same function as the verified
    run's, with `image` (the output tag, not the temporary one verification may use) and the seccomp profile's
    file (the run passes the same JSON inline). `config`: how the slim image runs; `ids`: the numeric user and
    group it runs as. `probes`: the answers of the traced run; only ports some probe got an answer on are
    named as reached (a port that never opened is no port to publish)."""
    options = dataclasses.replace(options, image=image, profile=profile)
    spec = container_spec(options, config, engine.remote, engine.publishes, seccomp_file=seccomp_file)
    limits = getattr(engine, "limits", None) or {}  # what the engine sets on every container (Podman here)
    answered = _answered_ports(probes, target_ports(options, config))
    reached = tuple(p for p in reached_ports(options, config) if p in answered)
    return RunLine(engine.name, spec, config.entrypoint, config.cmd, reached,
                   tuple(sorted(limits.items())), *ids, effective_mode(options, config).mode == "exit")


def _answered_ports(probes: tuple[ProbeResult, ...], targets: list[int]) -> set[int]:
    """The container ports a probe got an answer on: an HTTP probe's own port, the target ports of a host
    command that ran (it waited for them to accept)."""
    out: set[int] = set()
    for probe in probes:
        if probe.kind == "http" and probe.ok and probe.container_port().isdigit():
            out.add(int(probe.container_port()))
        elif probe.kind == "host" and probe.ok:
            out.update(targets)
    return out


def _differences(engine: Engine, options: RunOptions, image: str, traced: Trace, profile: RunProfile) -> list[str]:
    result = run(engine, dataclasses.replace(options, image=image, profile=profile))
    return differences(traced.outcome, result.outcome)


def diagnose(engine: Engine, options: RunOptions, image: str, traced: Trace, profile: RunProfile) -> list[str]:
    """Which parts of the profile the run needs loosened, each found by rerunning with that part alone relaxed; for
    seccomp, also which denied calls the app needs."""
    def passes(candidate: RunProfile) -> bool:
        try:
            return not _differences(engine, options, image, traced, candidate)
        except (EngineError, TraceError):
            return False

    found = []
    everything = frozenset(X86_64) | (profile.syscalls or frozenset())
    if profile.syscalls is not None and passes(dataclasses.replace(profile, syscalls=everything)):
        missing = _missing_calls(passes, profile, sorted(everything - profile.syscalls))
        found.append("seccomp: the app needs " + (", ".join(missing) if missing else "calls the search could not "
                                                  "narrow down within its run budget"))
    if profile.read_only and passes(dataclasses.replace(profile, read_only=False, tmpfs=())):
        found.append("read-only root: the app writes somewhere the trace did not show")
    if profile.no_new_privileges and passes(dataclasses.replace(profile, no_new_privileges=False)):
        found.append("no-new-privileges: the app behaves differently with it (a setuid program it runs, or it "
                     "reads the flag)")
    if passes(dataclasses.replace(profile, cap_add=tuple(sorted(set(profile.cap_add) | set(ENGINE_DEFAULT_CAPS))))):
        found.append("capabilities: the app needs a capability the trace did not show")
    return found or ["no single part of the profile explains it: the run may be flaky"]


class _OutOfRuns(Exception):
    pass


def _missing_calls(passes, profile: RunProfile, denied: list[str]) -> list[str]:
    """The denied calls the run needs, by bisection: [] when the run budget ran out first."""
    allowed = profile.syscalls
    if allowed is None:  # no allow-list: nothing was denied
        return []
    runs = [0]

    def works(calls) -> bool:
        runs[0] += 1
        if runs[0] > MAX_SECCOMP_RUNS:
            raise _OutOfRuns
        return passes(dataclasses.replace(profile, syscalls=allowed | frozenset(calls)))

    def find(group: list[str], base: frozenset[str]) -> list[str]:
        # base + group passes and base alone does not: a small part of group that is enough
        if len(group) == 1:
            return group
        first, second = group[:len(group) // 2], group[len(group) // 2:]
        if works(base | set(first)):
            return find(first, base)
        if works(base | set(second)):
            return find(second, base)
        in_first = find(first, base | frozenset(second))
        return in_first + find(second, base | frozenset(in_first))

    try:
        return sorted(find(denied, frozenset()))
    except _OutOfRuns:
        return []
