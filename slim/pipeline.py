"""The one place that wires slim's stages together: source -> flatten -> (trace -> plan) -> assemble -> sink."""

from __future__ import annotations

from dataclasses import dataclass

from slim.engine import Engine
from slim.closure import Closure, closure_of, env_dict
from slim.image.assemble import AssembledImage, assemble
from slim.image.model import Image
from slim.image.reference import Reference
from slim.image.sink import Output, write_image
from slim.image.source import read_image
from slim.inspect import inspect_image
from slim.model import ImageInfo
from slim.progress import Phases
from slim.rootfs import RootFS
from slim.workspace import Workspace


@dataclass
class Loaded:
    image: Image
    rootfs: RootFS


def load(ref: Reference, ws: Workspace, engine: Engine, phases: Phases) -> Loaded:
    with phases.phase("read", f"reading {ref.text}"):
        image = read_image(ref, ws, engine)
    with phases.phase("flatten", f"flattening {len(image.layers)} layers"):
        rootfs = image.rootfs()
    for warning in rootfs.warnings[:20]:
        phases.warn(warning)
    if len(rootfs.warnings) > 20:
        phases.warn(f"... and {len(rootfs.warnings) - 20} more warnings")
    return Loaded(image, rootfs)


def inspect(ref: Reference, ws: Workspace, engine: Engine, phases: Phases) -> ImageInfo:
    loaded = load(ref, ws, engine, phases)
    return inspect_image(loaded.image, loaded.rootfs)


def squash(ref: Reference, output: Output, tags: list[str], ws: Workspace, engine: Engine,
           phases: Phases) -> AssembledImage:
    """Every path of the image in one FROM-scratch layer with the original config."""
    loaded = load(ref, ws, engine, phases)
    with phases.phase("assemble", "assembling one layer"):
        paths = [e.path for e in loaded.rootfs.walk() if e.path != "/"]
        assembled = assemble(loaded.rootfs, paths, loaded.image.config, ref.text, loaded.image.image_id, ws)
    with phases.phase("write", f"writing to {output.kind}{':' + output.path if output.path else ''}"):
        write_image(assembled, output, tags, ws, engine)
    return assembled


def deps(ref: Reference, paths: list[str], ws: Workspace, engine: Engine, phases: Phases) -> Closure:
    """The static closure of `paths` inside the image, resolved as the image's own loader would."""
    loaded = load(ref, ws, engine, phases)
    run = loaded.image.run_config
    with phases.phase("closure", f"resolving the closure of {len(paths)} path(s)"):
        return closure_of(loaded.rootfs, paths, env_dict(run.get("Env")), run.get("WorkingDir") or "/")


def trace(options, syscall_profile: bool, seccomp_bpf: bool, engine: Engine, phases: Phases):
    """Run the image under strace with its probes; the Trace of what it touched."""
    from tracers.strace import StraceTracer

    tracer = StraceTracer(engine, syscall_profile=syscall_profile, seccomp_bpf=seccomp_bpf)
    with phases.phase("trace", f"running {options.image} under strace with probes"):
        return tracer.trace(options)
