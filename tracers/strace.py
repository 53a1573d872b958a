"""The default tracer: the host's strace, run inside the container from the tracer bundle.

The container runs `tini -g -s -- LOADER --library-path LIB strace -f -y ... -- ENTRYPOINT CMD`: tini is PID 1
so `docker stop` reaches the app (strace alone would hold the signal back), and forwards it to the whole
process group. `--exec` probes run under strace too, each into its own output file. Output goes to a
per-run volume, read back through the API, then removed.
"""

from __future__ import annotations

import io
import tarfile
import time
import uuid

from slim import identity
from slim.engine import ContainerSpec, Containers, Engine, Mount, Volumes
from slim.model import SlimWarning, Trace
from tracers import bundle as bundle_mod
from slim.run.options import RunOptions
from slim.run.runner import Hooks, run
from tracers.strace_parser import parse_strace_files

OUTPUT = "/slim-trace"
# Data-carrying calls are printed raw: their buffers would bloat the trace and are never needed.
_RAW = "read,write,pread64,pwrite64,readv,writev,recvfrom,sendto,recvmsg,sendmsg,recvmmsg,sendmmsg"
# Without the whole syscall profile, only what reveals paths and processes is traced (much cheaper).
_PATH_SYSCALLS = ("%file,%process,getdents,getdents64,fchdir,setuid,setgid,setreuid,setregid,setresuid,setresgid,"
                  "setfsuid,setfsgid,setgroups")


class StraceHooks(Hooks):
    """The `Hooks` that put strace between the engine and the app: the bundle and an output volume mounted, the
    entrypoint and --exec probes wrapped, the trace files read back after the run."""

    use_engine_init = False  # the bundle's tini is the init

    def __init__(self, syscall_profile: bool, seccomp_bpf: bool):
        self.bundle = bundle_mod.host_bundle()
        # named after the run (the engine adds its identity labels), so a killed run's volume is found
        self.output_volume = f"slim-trace-{identity.current().run_id}-{uuid.uuid4().hex[:6]}"
        self.syscall_profile = syscall_profile
        self.seccomp_bpf = seccomp_bpf
        self.raw_files: dict[str, str] = {}

    def prepare(self, engine: bundle_mod.Delivery, image: str) -> None:
        engine.ensure_volume(self.bundle.volume, {bundle_mod.CACHE_LABEL: "tracer-bundle"}, shared=True)
        engine.ensure_volume(self.output_volume, {"slim.purpose": "trace-output"})
        # One helper container, never started, to fill both volumes through the API.
        helper = engine.create(ContainerSpec(image, (self.bundle.tini,), mounts=(
            Mount(self.bundle.volume, bundle_mod.MOUNT), Mount(self.output_volume, OUTPUT))))
        try:
            bundle_mod.fill(engine, helper, self.bundle)
            # The app may run as any user: the output directory must be writable by it.
            info = tarfile.TarInfo("out")
            info.type, info.mode = tarfile.DIRTYPE, 0o1777
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                tar.addfile(info)
            engine.put_archive(helper, OUTPUT, buf.getvalue())
        finally:
            engine.remove_container(helper)

    def mounts(self) -> list[Mount]:
        return [Mount(self.bundle.volume, bundle_mod.MOUNT, read_only=True), Mount(self.output_volume, OUTPUT)]

    def cap_add(self) -> list[str]:
        # Without it, children that switch user (nginx workers) turn non-dumpable and cannot be traced.
        return ["SYS_PTRACE"]

    def _strace(self, output: str) -> list[str]:
        argv = self.bundle.strace_argv() + ["-f", "-qq", "-y", "-s", "256", "-e", f"raw={_RAW}",
                                            "-o", f"{OUTPUT}/out/{output}"]
        if not self.syscall_profile:
            argv += ["-e", f"trace={_PATH_SYSCALLS}"]
            if self.seccomp_bpf:
                argv.append("--seccomp-bpf")  # only useful when not every syscall is traced
        return argv + ["--"]

    def entrypoint(self, argv: list[str]) -> list[str]:
        return [self.bundle.tini, "-g", "-s", "--"] + self._strace("main.trace") + argv

    def exec_argv(self, argv: list[str], n: int) -> list[str]:
        return self._strace(f"exec-{n}.trace") + argv

    def collect(self, engine: Containers, container: str) -> None:
        data = engine.get_archive(container, f"{OUTPUT}/out")
        if data is None:
            return
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
            for member in tar:
                member_file = tar.extractfile(member) if member.isfile() and member.name.endswith(".trace") else None
                if member_file is not None:
                    text = member_file.read().decode("utf-8", "surrogateescape")
                    self.raw_files[member.name.rsplit("/", 1)[-1]] = text

    def cleanup(self, engine: Volumes) -> None:
        engine.remove_volume(self.output_volume)


class StraceTracer:
    """The `Tracer` slim uses: one run of the original image under strace, the trace files parsed into a Trace."""

    name = "strace"

    def __init__(self, engine: Engine, syscall_profile: bool = True, seccomp_bpf: bool = True):
        self.engine = engine
        self.syscall_profile = syscall_profile
        self.seccomp_bpf = seccomp_bpf

    def trace(self, options: RunOptions) -> Trace:
        hooks = StraceHooks(self.syscall_profile, self.seccomp_bpf)
        result = run(self.engine, options, hooks)
        start = time.monotonic()
        ignore = (bundle_mod.MOUNT, OUTPUT)
        parsed = parse_strace_files([io.StringIO(text) for _, text in sorted(hooks.raw_files.items())],
                                    result.workdir, ignore)
        result.seconds["parse"] = time.monotonic() - start
        warnings = list(result.warnings) + list(parsed.warnings)
        if "main.trace" not in hooks.raw_files:
            warnings.append(SlimWarning("trace.empty", "strace wrote no trace: the program may not have started"))
        return Trace(
            accesses=tuple(parsed.accesses),
            processes=tuple(parsed.processes),
            syscalls=tuple(sorted(parsed.syscalls.items())),
            exit_code=result.exit_code,
            stdout=result.stdout,
            stderr=result.stderr,
            probes=tuple(result.probes),
            seconds=tuple(sorted(result.seconds.items())),
            warnings=tuple(warnings),
            uids=tuple(sorted(parsed.uids)),
            gids=tuple(sorted(parsed.gids)),
            bound_ports=tuple(sorted(parsed.ports)),
            config=result.config,
            argv=tuple(result.argv),
            mode=result.mode,
            stopped=result.stopped,
            workdir=result.workdir,
        )
