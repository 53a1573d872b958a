"""`slim build`: trace -> plan -> assemble -> write -> verify -> report, for one image in the Docker engine."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass

from slim.errors import UsageError
from slim.image.assemble import assemble
from slim.image.overlay import overlay
from slim.image.reference import DAEMON, Reference
from slim.engine import Engine
from slim.image.sink import DOCKER, Output, is_temporary, remove_tags, temporary_tag, write_image
from slim.image.source import read_image
from slim.inspect import counts
from slim.pkgdb.catalog import read_catalog
from slim.plan import PlanOptions, plan
from slim.progress import Phases
from slim.report import Measured, Verification, build_report
from slim.verify import differences
from slim.workspace import Workspace
from tracers.base import RunOptions, command_of


@dataclass(frozen=True)
class BuildOptions:
    run: RunOptions
    plan: PlanOptions
    output: Output
    tags: tuple[str, ...]
    verify: bool = True
    keep_failed: bool = False
    syscall_profile: bool = True
    seccomp_bpf: bool = True


def build(ref: Reference, opts: BuildOptions, ws: Workspace, engine: Engine, phases: Phases) -> dict:
    if ref.transport != DAEMON:
        raise UsageError(f"{ref.text}: slim build runs the image in Docker; load it first (docker load -i FILE)")
    started = time.monotonic()
    original = engine.image(ref.location)
    created: list[str] = []
    try:
        image, rootfs, trace = _trace_and_read(ref, opts, ws, engine, phases)
        config = image.run_config
        argv = command_of(config, opts.run)
        with phases.phase("plan", "deciding what to keep"):
            catalog = read_catalog(rootfs)
            keep = plan(rootfs, config, trace, catalog, opts.plan, argv)
            newroot = overlay(rootfs, keep.generated, keep.modes, ws.path("generated.pack"))
        with phases.phase("assemble", f"assembling {len(keep.paths())} paths into one layer"):
            assembled = assemble(newroot, keep.paths(), image.config, ref.location, image.image_id, ws)
        in_engine = _write(assembled, opts, ws, engine, phases, created)
        verification = Verification(ran=False)
        if opts.verify:
            with phases.phase("verify", "verifying the slim image with the same probes"):
                verification = _verify(engine, opts.run, in_engine, trace, config)
        slim_docker = engine.image(in_engine).size if in_engine else None
        content, files, _ = counts(rootfs)
        before = Measured(original.size, sum(l.size_bytes for l in image.layers), content, files)
        after = Measured(slim_docker, assembled.layer_size, assembled.files_bytes, assembled.file_count)
        phases.seconds["total"] = time.monotonic() - started  # wall time: trace and read overlap
        report = build_report(
            image=ref.location, image_id=assembled.image_id,
            output={"kind": opts.output.kind, "path": opts.output.path, "tags": list(opts.tags),
                    "layer_digest": assembled.layer_digest},
            before=before, after=after, keep=keep, rootfs=newroot, trace=trace, verification=verification,
            lang_level=opts.plan.lang_completion, package_kind=catalog.kind, seconds=dict(phases.seconds),
            warnings=list(trace.warnings) + keep.warnings + rootfs.warnings[:20], config=config)
    except BaseException:
        remove_tags(engine, created)
        raise
    # the temporary verification tag always goes; the output goes too when it failed verification
    remove_tags(engine, [t for t in created if is_temporary(t)])
    if verification.passed is False and not opts.keep_failed:
        remove_tags(engine, [t for t in created if not is_temporary(t)])
    return report


def _write(assembled, opts: BuildOptions, ws, engine: Engine, phases: Phases, created: list[str]) -> str | None:
    """Write the output; returns the tag the engine knows the result by (a temporary one for file outputs
    that are to be verified), and records in `created` every tag made, for removal on failure."""
    with phases.phase("write", f"writing {opts.output.describe(opts.tags)}"):
        if opts.output.kind != DOCKER:
            write_image(assembled, opts.output, list(opts.tags), ws, engine)
            if not opts.verify:
                return None
            temporary = temporary_tag()
            write_image(assembled, Output(DOCKER), [temporary], ws, engine)
            created.append(temporary)
            return temporary
        write_image(assembled, opts.output, list(opts.tags), ws, engine)
        created.extend(opts.tags)
        return opts.tags[0]


def _verify(engine: Engine, run_options: RunOptions, image: str, trace, config: dict) -> Verification:
    """The same run and probes against the slim image, untraced, compared with the traced original."""
    from tracers.runner import effective_mode, run

    batch = effective_mode(run_options, config).mode == "exit"
    result = run(engine, dataclasses.replace(run_options, image=image))
    diffs = differences(trace.exit_code, trace.stdout, trace.probes, result.exit_code, result.stdout, result.probes,
                        batch)
    return Verification(True, not diffs, diffs, result.exit_code, result.probes)


def _trace_and_read(ref, opts: BuildOptions, ws, engine: Engine, phases: Phases):
    """The traced run and the reading of the image are independent: do them at the same time."""
    from tracers.strace import StraceTracer

    box: dict = {}

    def read() -> None:
        start = time.monotonic()
        try:
            image = read_image(ref, ws, engine)
            box["image"], box["rootfs"] = image, image.rootfs()
        except BaseException as exc:  # handed to the main thread, which raises it
            box["error"] = exc
        box["seconds"] = time.monotonic() - start

    reader = threading.Thread(target=read, name="slim-read", daemon=True)
    reader.start()
    tracer = StraceTracer(engine, syscall_profile=opts.syscall_profile, seccomp_bpf=opts.seccomp_bpf)
    with phases.phase("trace", f"tracing {ref.location} while probing it (and reading its layers)"):
        trace = tracer.trace(opts.run)
        reader.join()
    phases.seconds["read"] = box.get("seconds", 0.0)
    if "error" in box:
        raise box["error"]
    return box["image"], box["rootfs"], trace

