"""The one place that wires slim's stages together, for every command:

    source -> flatten -> (trace -> plan -> rewrite) -> assemble -> sink -> verify -> report

Each stage takes plain values and returns one; this module only calls them in order, times the phases and
joins their warnings. The command line turns what it returns into output and exit codes.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

from slim import cleanup
from slim.checks import exposure
from slim.closure.walk import Closure, closure_of
from slim.checks.image_lint import lint_image
from slim.checks.lint_rules import Finding
from slim.packages.inventory import Inventory, read_inventory
from slim.packages.catalog import read_catalog
from slim.langs.pyscan import ModuleScanner, ScanCache, scan_cache_file
from slim.checks.users import read_accounts, resolve_user
from slim.engine import Engine, Images
from slim.errors import SlimError, UsageError
from slim.image.assemble import AssembledImage, assemble
from slim.image.compressed import gzip_size
from slim.image.model import Image
from slim.image.overlay import overlay
from slim.image.reference import DAEMON, Reference, tag_of
from slim.image.sink import DOCKER, Output, Written, dispose, remove_tags, temporary_tag, write_image
from slim.image.source import Reading, read_image
from slim.image.stage import Unstaging, stage_in_engine
from slim.model import ImageInfo, SlimWarning, Trace
from slim.plan.keep import PlanOptions, plan_keep
from slim.plan.rebase import RunAs, rebase, with_user
from slim.plan.rewrite import rewrite
from slim.harden.profile import derive
from slim.harden.seccomp import write_seccomp_profile
from slim.progress import Phases
from slim.report.compare import ImageSummary, summarize
from slim.report.build import BuildFacts, BuildReport, HardenedProfile, Measured, OutputFacts, Verification
from slim.report.inspect import counts, inspect_image
from slim.rootfs import RootFS
from slim.run.options import RunOptions
from slim.run.reach import probe_reach
from slim.run.hardened import run_line, verify_under
from slim.run.runner import run
from slim.run.verify import differences, require_passing
from slim.workspace import Workspace
from tracers.strace import StraceTracer


@dataclass(frozen=True)
class TraceOptions:
    """How the tracer runs strace: the full syscall profile (what the seccomp profile needs) or only the calls that
    reveal files and processes (faster)."""

    syscall_profile: bool = True  # every syscall, or only those that reveal files and processes
    seccomp_bpf: bool = True  # with syscall_profile off: let strace filter in the kernel


@dataclass(frozen=True)
class BuildOptions:
    """Everything `slim build` was asked to do, as one value the command line builds and the pipeline reads."""

    run: RunOptions
    plan: PlanOptions
    output: Output
    tags: tuple[str, ...]
    verify: bool = True
    keep_failed: bool = False
    tracing: TraceOptions = TraceOptions()
    harden: bool = True  # derive a least-privilege run profile and verify the slim image under it
    seccomp_file: str = ""  # where the profile's seccomp JSON goes (an absolute path)
    run_as: RunAs | None = None  # rebase a root-running image on this unprivileged user
    allow_failing_probes: bool = False  # compare even when the original fails a probe (an expected failure)


@dataclass
class Loaded:
    """An image read and flattened: what every command that looks inside an image starts from."""

    image: Image
    rootfs: RootFS


def load(ref: Reference, ws: Workspace, engine: Images, phases: Phases) -> Loaded:
    """Read the image `ref` names and flatten its layers, each step timed as a phase."""
    with phases.phase("read", f"reading {ref.text}"):
        image = read_image(ref, ws, engine)
    with phases.phase("flatten", f"flattening {len(image.layers)} layers"):
        rootfs = image.rootfs()
    return Loaded(image, rootfs)


def inspect(ref: Reference, ws: Workspace, engine: Images, phases: Phases) -> ImageInfo:
    """`slim inspect`: the facts about an image, from its config, layers and files."""
    loaded = load(ref, ws, engine, phases)
    return inspect_image(loaded.image, loaded.rootfs)


def inventory(ref: Reference, ws: Workspace, engine: Images, phases: Phases) -> tuple[Loaded, Inventory]:
    """The packages of every kind the image holds (what its SBOM lists)."""
    loaded = load(ref, ws, engine, phases)
    with phases.phase("inventory", "listing packages"):
        found = read_inventory(loaded.rootfs)
    found.warnings[:0] = loaded.rootfs.warnings
    return loaded, found


def compare(refs: list[Reference], workspaces, engine: Images, phases: Phases) -> list[ImageSummary]:
    """One summary per image. `workspaces()` gives a fresh Workspace: each image keeps its own until its layers'
    compressed sizes are measured, which happens in threads while the next image is read."""
    with ExitStack() as stack:
        pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="slim-gzip")
        try:
            found = []
            for ref in refs:
                loaded, listed = inventory(ref, stack.enter_context(workspaces()), engine, phases)
                sizes = [pool.submit(gzip_size, layer.pack_file) for layer in loaded.image.layers]
                with phases.phase("exposure", "looking for shells, package managers, setuid files"):
                    exposed = exposure.scan(loaded.rootfs)
                in_engine = engine.find_image(ref.location) if ref.transport == DAEMON else None
                found.append((loaded, listed, exposed, in_engine.size if in_engine else None, sizes))
            with phases.phase("compress", "measuring the layers gzip-compressed"):
                return [summarize(loaded.image, loaded.rootfs, listed, exposed, docker_bytes,
                                  sum(size.result() for size in sizes))
                        for loaded, listed, exposed, docker_bytes, sizes in found]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # before the work directories go: the threads read them


def reference_tag(ref: Reference, image: Image) -> str | None:
    """The tag an image goes by: the engine reference's (digests have none), else the archive's own."""
    if ref.transport == DAEMON:
        return None if "@" in ref.location else tag_of(ref.location)
    tagged = ref.tag or (image.repo_tags[0] if image.repo_tags else "")
    return tag_of(tagged) or tagged or None  # an archive's TAG may be the tag alone


def lint(ref: Reference, ws: Workspace, engine: Images, phases: Phases) -> list[Finding]:
    """The image's practices: config, history and files against slim.checks.lint_rules."""
    loaded = load(ref, ws, engine, phases)
    with phases.phase("lint", "checking the image's config, history and files"):
        return lint_image(loaded.rootfs, loaded.image.run_config, loaded.image.config.get("history") or [],
                          reference_tag(ref, loaded.image))


@dataclass(frozen=True)
class Squashed:
    """What `slim squash` wrote, and the warnings met on the way."""

    assembled: AssembledImage
    warnings: tuple[SlimWarning, ...]
    image_id: str  # the engine's ID for the tags, read back after loading; the config digest for a file output


def squash(ref: Reference, output: Output, tags: list[str], ws: Workspace, engine: Images,
           phases: Phases) -> Squashed:
    """Every path of the image in one FROM-scratch layer with the original config."""
    loaded = load(ref, ws, engine, phases)
    with phases.phase("assemble", "assembling one layer"):
        paths = [e.path for e in loaded.rootfs.walk() if e.path != "/"]
        assembled = assemble(loaded.rootfs, paths, loaded.image.config, ref.text, loaded.image.image_id, ws)
    with phases.phase("write", f"writing {output.describe(tags)}"):
        written = write_image(assembled, output, tags, ws, engine)
    return Squashed(assembled, tuple(loaded.rootfs.warnings), written.image_id)


def deps(ref: Reference, paths: list[str], ws: Workspace, engine: Images, phases: Phases) -> Closure:
    """The static closure of `paths` inside the image, resolved as the image's own loader would."""
    loaded = load(ref, ws, engine, phases)
    config = loaded.image.run_config
    with phases.phase("closure", f"resolving the closure of {len(paths)} path(s)"):
        closure = closure_of(loaded.rootfs, paths, config.env_dict(), config.workdir or "/")
    closure.warnings[:0] = loaded.rootfs.warnings  # what reading the image skipped comes first
    return closure


def trace(options: RunOptions, tracing: TraceOptions, engine: Engine, phases: Phases) -> Trace:
    """Run the image under strace with its probes; the Trace of what it touched."""
    tracer = StraceTracer(engine, syscall_profile=tracing.syscall_profile, seccomp_bpf=tracing.seccomp_bpf)
    with phases.phase("trace", f"running {options.image} under strace with probes"):
        return tracer.trace(options)


def doctor(engine: Engine, ws: Workspace, phases: Phases) -> dict:
    """What `slim doctor` reports: the engine, the tracer bundle, whether probes reach a container (slim.run.reach),
    and whether tracing works, proven by tracing a static program (the bundle's tini) in an empty image made for it."""
    from tracers import bundle as bundle_mod

    out: dict[str, Any] = {"engine": engine.facts(), "tracer_bundle": None, "tracing": {"works": False, "detail": ""},
                           "probes": probe_reach(engine, phases)}
    try:
        bundle = bundle_mod.host_bundle()
    except SlimError as exc:
        out["tracing"]["detail"] = str(exc)
        return out
    volumes = {name for name, _ in engine.labelled_volumes(bundle_mod.CACHE_LABEL)}
    out["tracer_bundle"] = {"volume": bundle.volume, "cached": bundle.volume in volumes}
    tag = temporary_tag()
    try:
        with phases.phase("doctor", "tracing a static program in an empty image"):
            empty = assemble(RootFS({}), [], {"config": {"Entrypoint": [bundle.tini, "--version"]}}, "slim doctor",
                             "sha256:" + "0" * 64, ws)
            write_image(empty, Output(DOCKER), [tag], ws, engine)
            traced = StraceTracer(engine).trace(RunOptions(image=tag))
        seen = any(p.exe == bundle.tini for p in traced.processes)
        out["tracing"] = {"works": traced.exit_code == 0 and seen, "detail": f"exit code {traced.exit_code}, "
                          f"{len(traced.processes)} processes, {len(traced.accesses)} file accesses seen"}
    except SlimError as exc:
        out["tracing"]["detail"] = str(exc)
    finally:
        remove_tags(engine, [tag])
    return out


def _in_engine(ref: Reference, ws: Workspace, engine: Images, phases: Phases, created: list[str]) -> str:
    """The engine's name for the image to build from: its own, or a temporary tag it is loaded under."""
    if ref.transport == DAEMON:
        return ref.location
    with phases.phase("stage", f"loading {ref.text} into the engine under a temporary tag"):
        return stage_in_engine(ref, ws, engine, created)


def run_image(ref: Reference) -> str:
    """The image name run options start with: the engine's name, or "" until a file input is staged."""
    return ref.location if ref.transport == DAEMON else ""


def engine_image(ref: Reference, command: str) -> str:
    """The engine's name for an image a command runs; only images in the engine can run."""
    if ref.transport != DAEMON:
        raise UsageError(f"{ref.text}: slim {command} runs the image in the engine; load it first (docker load -i FILE)")
    return ref.location


def build(ref: Reference, opts: BuildOptions, ws: Workspace, engine: Engine, phases: Phases) -> BuildReport:
    """Trace, plan, assemble, write, verify: a minimal image that behaves like the original, and the report."""
    started = time.monotonic()
    sweep(engine, os.path.dirname(ws.root), phases)
    created: list[str] = []  # tags made in the engine, removed again on failure
    written: list[Written] = []  # file outputs written, removed again on failure
    unstaging: list[Unstaging] = []  # the staged original, removed in the background once traced
    try:
        reading = Reading(ref, ws, engine)  # a file needs no engine: read while the engine loads it
        image_name = _in_engine(ref, ws, engine, phases, created)
        opts = dataclasses.replace(opts, run=dataclasses.replace(opts.run, image=image_name))
        original = engine.image(image_name)
        image, rootfs, traced = _trace_and_read(ref, reading, opts, engine, phases)
        unstaging.append(Unstaging(engine, created))
        if not opts.allow_failing_probes:
            require_passing(traced.outcome)
        config = image.run_config
        with phases.phase("plan", "deciding what to keep"):
            catalog = read_catalog(rootfs)
            accounts = read_accounts(rootfs)
            keep = _keep(rootfs, config, traced, accounts, opts.plan, catalog.owned())
            rewrites = rewrite(rootfs, config, traced, accounts, catalog, keep, opts.plan)
            rebased = rebase(rootfs, config, traced, opts.run_as, set(rewrites.paths(keep)), rewrites) \
                if opts.run_as else None
            newroot = overlay(rootfs, rewrites.generated, rewrites.modes, ws.path("generated.pack"), rewrites.owners)
        paths = rewrites.paths(keep)
        slim_user = rebased.user if rebased and rebased.user else None
        with phases.phase("assemble", f"assembling {len(paths)} paths into one layer"):
            assembled = assemble(newroot, paths, with_user(image.config, slim_user), image_name, image.image_id, ws)
        in_engine = _write(assembled, opts, ws, engine, phases, created, written, unstaging[0])
        verification = _verify(engine, opts, in_engine, traced, phases)
        # what the slim image runs as: the rebased user, else a --user given for the runs, else its own USER
        slim_config = dataclasses.replace(config, user=slim_user or opts.run.user or config.user)
        run_profile = _harden(engine, opts, in_engine, traced, slim_config, newroot, set(paths), verification, phases)
        before, after = _measured(original.size, image, rootfs, engine, in_engine, assembled)
        outcome = dispose(engine, created, written, verification.passed is False, opts.keep_failed)
        phases.seconds["total"] = time.monotonic() - started  # wall time: trace and read overlap
        facts = BuildFacts(
            image=image_name if ref.transport == DAEMON else ref.text, image_id=assembled.image_id,
            output=OutputFacts(opts.output.kind, opts.output.path, opts.tags, assembled.layer_digest, *outcome),
            before=before, after=after, keep=keep, rewrites=rewrites, trace=traced, verification=verification,
            lang_level=opts.plan.lang_completion, package_kind=catalog.kind, seconds=dict(phases.seconds),
            warnings=[*traced.warnings, *catalog.warnings, *keep.warnings, *rootfs.warnings,
                      *(rebased.warnings if rebased else ())],
            run_profile=run_profile, slim_config=slim_config, rebased=rebased,
            history=image.config.get("history") or [], tag=reference_tag(ref, image), engine=engine.facts())
        report = BuildReport.of(facts, rootfs, newroot)
    except BaseException:  # nothing unverified stays: not the tags, not the files
        _undo(engine, created, written, unstaging)
        raise
    return report


def _keep(rootfs, config, traced: Trace, accounts, options: PlanOptions, owned: frozenset[str]):
    """plan_keep, with Python modules scanned by worker processes and through the scan cache."""
    with ModuleScanner(ScanCache(scan_cache_file())) as scanner:
        keep = plan_keep(rootfs, config, traced, accounts, options, owned, scanner)
    keep.warnings.extend(scanner.warnings())
    keep.python_scans = {"parsed": scanner.parsed, "cached": scanner.cached}
    return keep


def _measured(docker_bytes, image: Image, rootfs, engine: Images, in_engine: str | None,
              assembled: AssembledImage) -> tuple[Measured, Measured]:
    """Sizes and file counts of the original and the slim image, as the report states them."""
    content, files, _ = counts(rootfs)
    before = Measured(docker_bytes, sum(layer.size_bytes for layer in image.layers), content, files)
    after = Measured(engine.image(in_engine).size if in_engine else None, assembled.layer_size,
                     assembled.files_bytes, assembled.file_count)
    return before, after


def sweep(engine: Engine, work_base: str, phases: Phases) -> None:
    """Remove what killed runs left (their containers, volumes, temporary tags, work directories)."""
    found = cleanup.find_dead(engine, work_base)
    done = cleanup.remove(engine, found)
    if done.removed:
        phases.warn(f"removed {len(done.removed)} leftovers of slim runs that were killed (see slim cleanup --help)")
    for line, reason in done.failed:
        phases.warn(f"could not remove {line}, left by a slim run that was killed: {reason} (slim cleanup retries)")


def _undo(engine: Images, created: list[str], written: list[Written], unstaging: list[Unstaging]) -> None:
    """Remove what a failed build made: the tags (once the staged original's removal is over), the files."""
    for removal in unstaging:
        removal.wait()
    remove_tags(engine, created)
    for output in written:
        output.remove()


def _write(assembled, opts: BuildOptions, ws, engine: Images, phases: Phases, created: list[str],
           written: list[Written], unstaging: Unstaging) -> str | None:
    """Write the output; returns the tag the engine knows the result by (a temporary one for file outputs
    that are to be verified), and records in `created` every tag made and in `written` every file output,
    for removal on failure. The staged original's removal ends first: the engine makes a load wait for it."""
    if unstaging.tags:  # it went on while slim planned and assembled
        with phases.showing("removing the original, loaded into the engine for the trace"):
            phases.seconds["unstage"] = unstaging.wait()
    with phases.phase("write", f"writing {opts.output.describe(opts.tags)}"):
        if opts.output.kind != DOCKER:
            written.append(write_image(assembled, opts.output, list(opts.tags), ws, engine))
            if not opts.verify:
                return None
            temporary = temporary_tag()
            created.append(temporary)
            write_image(assembled, Output(DOCKER), [temporary], ws, engine)
            return temporary
        created.extend(opts.tags)
        write_image(assembled, opts.output, list(opts.tags), ws, engine)
        return opts.tags[0]


def _verify(engine: Engine, opts: BuildOptions, image: str | None, traced: Trace, phases: Phases) -> Verification:
    """The same run and probes against the slim image, untraced, compared with the traced original."""
    if not opts.verify or image is None:
        return Verification(ran=False)
    with phases.phase("verify", "running the same probes against the slim image"):
        result = run(engine, dataclasses.replace(opts.run, image=image))
    diffs = differences(traced.outcome, result.outcome)
    return Verification(True, not diffs, tuple(diffs), result.exit_code, tuple(result.probes))


def _harden(engine: Engine, opts: BuildOptions, image: str | None, traced: Trace, slim_config, newroot: RootFS,
            kept: set[str], verification: Verification, phases: Phases) -> HardenedProfile | None:
    """The least-privilege profile of the slim image, written out, and proven by a run under it."""
    if not opts.harden:
        return None
    profile = derive(traced, newroot, slim_config, kept, opts.tracing.syscall_profile, engine.name)
    if opts.run.user:  # the runs were made as this user: so must the hardened one be
        profile = dataclasses.replace(profile, user=opts.run.user)
    # the profile's file goes beside the output only when the output stays (a failed verification removes it,
    # unless --keep-failed): nothing of an unverified image is left behind
    if profile.syscalls is not None and (verification.passed is not False or opts.keep_failed):
        write_seccomp_profile(opts.seccomp_file, profile.syscalls)
    ids = resolve_user(profile.user or slim_config.user or "root", list(read_accounts(newroot).accounts))
    # what slim prints: the container verify_under runs, with the output's tag and the seccomp file
    line = run_line(engine, opts.run, slim_config, profile, (opts.tags or ("IMAGE",))[0], opts.seccomp_file, ids,
                    traced.probes)
    if image is None or not verification.passed:
        return HardenedProfile(profile, opts.seccomp_file, line, None)  # nothing to prove it against
    with phases.phase("harden", "running the slim image under its least-privilege profile"):
        proven = verify_under(engine, opts.run, image, traced, profile)
    return HardenedProfile(profile, opts.seccomp_file, line, proven)


def _trace_and_read(ref: Reference, reading: Reading, opts: BuildOptions, engine: Engine, phases: Phases):
    """The traced run, while the reading of the image goes on (the two are independent)."""
    tracer = StraceTracer(engine, syscall_profile=opts.tracing.syscall_profile, seccomp_bpf=opts.tracing.seccomp_bpf)
    with phases.phase("trace", f"tracing {ref.location} while probing it (and reading its layers)"):
        traced = tracer.trace(opts.run)
        reading.wait()
    phases.seconds["read"] = reading.seconds
    image, rootfs = reading.result()
    return image, rootfs, traced
