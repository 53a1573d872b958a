"""slim's command line. Commands parse options, build the pieces, call the pipeline; errors become exit codes here only."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence

import click

from slim import __version__, pipeline
from slim.engine import LazyEngine
from slim.errors import SlimError, UsageError
from slim.image.reference import parse_reference
from slim.image.sink import parse_output
from slim.model import warning_texts
from slim.plan.keep import PlanOptions
from slim.plan.rebase import parse_run_as
from slim.sizes import parse_size
from slim.cli.context import run_context, workspace
from slim.cli.ci import Outputs, ci_options, failure_recorded, finish_build, gates_of, image_list, trust_options
from slim.cli.options import build_run_options, run_options
from slim.cli.render import TERMINAL_WARNINGS
from slim.cli.text import file_name, visible


def _terminate(signum, frame):
    # The first SIGTERM unwinds like Ctrl-C, so every `finally` removes what it created. CI runners and
    # `timeout` send another one right after (to the whole process group): it must not cut that cleanup short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


class _SlimGroup(click.Group):
    def invoke(self, ctx: click.Context):
        signal.signal(signal.SIGTERM, _terminate)
        try:
            return super().invoke(ctx)
        except SlimError as exc:
            _remove_own_leftovers(ctx)
            click.echo(f"slim: error: {visible(exc)}", err=True)  # one line, whatever names it quotes
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            _remove_own_leftovers(ctx)
            click.echo("slim: interrupted; cleaned up", err=True)
            ctx.exit(130)
        finally:
            engine = (ctx.obj or {}).get("engine")
            if engine is not None:
                engine.close()


@click.group(cls=_SlimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="slim")
@click.option("--work-dir", envvar="SLIM_WORK_DIR", type=click.Path(file_okay=False),
              help="Where slim unpacks images while it runs (removed afterwards). Default: the system temp dir.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr.")
@click.option("--max-unpacked-size", envvar="SLIM_MAX_UNPACKED_SIZE", default="32GiB", show_default=True,
              metavar="SIZE", help="Refuse (exit 4) an image that unpacks to more than SIZE in the work directory: "
                                   "a small hostile archive can claim terabytes.")
@click.option("--engine", "engine_kind", type=click.Choice(["docker", "podman"]), envvar="SLIM_ENGINE",
              help="The engine to use. Default: DOCKER_HOST or CONTAINER_HOST when set, else the current Docker "
                   "context, Docker's socket, Podman's rootful socket, then your rootless Podman socket.")
@click.pass_context
def main(ctx: click.Context, work_dir: str | None, quiet: bool, max_unpacked_size: str,
         engine_kind: str | None) -> None:
    """Turn a container image into a minimal FROM-scratch image that still works, and prove it.

    IMAGE references: NAME[:TAG] or docker://NAME[:TAG] (the Docker engine), docker-archive:FILE[:TAG]
    (a `docker save` tarball), oci:DIR[:TAG] (an OCI image layout). The original image is only ever read.
    """
    ctx.obj = {"work_dir": work_dir, "quiet": quiet, "engine_kind": engine_kind,
               "max_unpacked": parse_size(max_unpacked_size, "--max-unpacked-size")}


def _remove_own_leftovers(ctx: click.Context) -> None:
    """After an error or an interrupt: whatever this run still holds in the engine (an interrupt can land in
    the middle of a removal). Every stage cleans up after itself; this is the net below them."""
    engine = (ctx.find_root().obj or {}).get("engine")
    if engine is None or not engine.connected:
        return
    from slim import cleanup

    try:
        cleanup.remove(engine, cleanup.find_own(engine))
    except (SlimError, KeyboardInterrupt):
        pass  # the engine is gone, or the user insists: the next run's sweep removes the rest


@main.command()
@click.argument("image")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (shape in docs/commands.md).")
@click.pass_context
def inspect(ctx: click.Context, image: str, as_json: bool) -> None:
    """Show what IMAGE holds: layers and their sizes, file count, total size, distribution."""
    phases, engine = run_context(ctx)
    with workspace(ctx) as ws:
        info = pipeline.inspect(parse_reference(image), ws, engine, phases)
    if as_json:
        from slim.report.shapes import info_json

        click.echo(json.dumps(info_json(info), indent=2))
        return
    from slim.cli.render import print_inspect

    print_inspect(info)


@main.command()
@click.argument("image")
@click.option("-t", "--tag", "tags", multiple=True, help="Tag for the result (repeatable). Default: NAME:TAG-squashed.")
@click.option("-o", "--output", default="docker", show_default=True,
              help="docker (load into the engine), docker-archive:FILE, or oci:DIR.")
@click.pass_context
def squash(ctx: click.Context, image: str, tags: tuple[str, ...], output: str) -> None:
    """Copy IMAGE into a FROM-scratch image of one layer holding every file, with the same config.

    Nothing is removed: this is the writer slim build uses, on the whole filesystem. Useful to flatten
    history or to convert between the engine, docker-archive files and OCI layouts.
    """
    ref = parse_reference(image)
    out = parse_output(output)
    names = list(tags) or [default_tag(ref.name, "squashed")]
    phases, engine = run_context(ctx)
    with workspace(ctx) as ws:
        squashed = pipeline.squash(ref, out, names, ws, engine, phases)
    for warning in warning_texts(squashed.warnings, TERMINAL_WARNINGS):
        phases.warn(warning)
    click.echo(visible(f"{squashed.image_id} {' '.join(names)}"))


@main.command()
@click.argument("image")
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Each kept path with why it is kept (shape in docs/commands.md).")
@click.option("--strict", is_flag=True, help="Exit 9 when a library or interpreter cannot be found.")
@click.pass_context
def deps(ctx: click.Context, image: str, paths: tuple[str, ...], as_json: bool, strict: bool) -> None:
    """Print what PATHS need inside IMAGE, resolved like the image's own loader.

    Follows symlinks, ELF interpreters and libraries (DT_NEEDED through RPATH, LD_LIBRARY_PATH from the
    image's ENV, RUNPATH, ld.so.cache or ld.so.conf, default directories; musl's path file), and script
    interpreters (#! lines, /usr/bin/env NAME through the image's PATH). One path per line; directories kept
    only as parents are left out of the plain listing.
    """
    phases, engine = run_context(ctx)
    with workspace(ctx) as ws:
        closure = pipeline.deps(parse_reference(image), [p if p.startswith("/") else "/" + p for p in paths],
                                ws, engine, phases)
    if as_json:
        from slim.report.shapes import closure_json

        click.echo(json.dumps(closure_json(closure), indent=2))
    else:
        for path in closure.files():
            click.echo(visible(path))
    for warning in warning_texts(closure.warnings, TERMINAL_WARNINGS):
        phases.warn(warning)
    for name, needed_by in closure.missing_libraries:
        click.echo(visible(f"slim: warning: {name} (needed by {needed_by}) not found"), err=True)
    for path, reason in closure.missing_paths:
        click.echo(visible(f"slim: warning: {path} ({reason.kind} {reason.of or 'the command line'}) does not exist"),
                   err=True)
    if strict and (closure.missing_libraries or closure.missing_paths):
        ctx.exit(9)


@main.command()
@click.argument("image")
@run_options
@click.option("--syscall-profile/--no-syscall-profile", default=True, show_default=True,
              help="Trace every syscall (a complete syscall list for seccomp profiles), or only the ones that "
                   "reveal files and processes (faster).")
@click.option("--seccomp-bpf/--no-seccomp-bpf", default=True, show_default=True,
              help="With --no-syscall-profile, let strace filter in the kernel. It sets no_new_privs, so setuid "
                   "programs do not elevate while traced: turn it off for images that need them to.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (shape in docs/commands.md).")
@click.pass_context
def trace(ctx: click.Context, image: str, syscall_profile: bool, seccomp_bpf: bool, as_json: bool, **kw) -> None:
    """Run IMAGE with tracing while probing it, and show every file it touched.

    The image runs in Docker under the host's strace (no privileged container; SYS_PTRACE only), with its
    Entrypoint + Cmd, while probes exercise it. Files are grouped by how they were accessed; failed lookups,
    processes, syscalls and probe results follow. The app failing is a result, not an error: the exit code
    is 0 whenever the trace itself could be taken.
    """
    options = build_run_options(pipeline.engine_image(parse_reference(image), "trace"), kw)
    phases, engine = run_context(ctx)
    result = pipeline.trace(options, pipeline.TraceOptions(syscall_profile, seccomp_bpf), engine, phases)
    from slim.cli.render import print_trace
    from slim.report.shapes import trace_json

    if as_json:
        click.echo(json.dumps(trace_json(image, result), indent=2))
    else:
        print_trace(image, result)


@main.command()
@click.argument("images", nargs=-1, metavar="IMAGE...")
@click.option("--from-file", type=click.Path(dir_okay=False, exists=True), metavar="LIST",
              help="Also build the images listed in LIST, one per line (# comments and blank lines skipped).")
@click.option("-j", "--jobs", type=click.IntRange(1, 16), default=1, show_default=True,
              help="With several images: how many builds run at once.")
@click.option("-t", "--tag", "tags", multiple=True, help="Tag for the result (repeatable). Default: NAME:TAG-slim.")
@click.option("-o", "--output", default="docker", show_default=True,
              help="docker (load into the engine), docker-archive:FILE, or oci:DIR.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False), help="Write the JSON report here.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report on stdout instead of the summary.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Run the same probes against the slim image and compare. --no-verify writes an unproven "
                   "image: it cannot be combined with --push or --fail-on.")
@click.option("--keep-failed", is_flag=True,
              help="When verification fails, keep the output (the engine tag, the docker-archive file or the "
                   "OCI directory) for inspection instead of removing it; the error says where it is.")
@click.option("--allow-failing-probes", is_flag=True,
              help="Build even when the original image fails a probe (HTTP 500 or above or no answer, a command "
                   "that exits non-zero or times out): the slim image must then fail it the same way. Without "
                   "it such a build stops (exit 17): a comparison with a failing original proves nothing.")
@click.option("--include-path", "include_paths", multiple=True, metavar="PATH",
              help="Keep PATH (a file, or a directory with everything below it) and its closure (repeatable).")
@click.option("--include-bin", "include_bins", multiple=True, metavar="PATH",
              help="Keep the binary PATH and what it needs (repeatable).")
@click.option("--exclude-pattern", "exclude_patterns", multiple=True, metavar="GLOB",
              help="Never keep paths matching GLOB, even traced ones ('*' crosses '/'; repeatable).")
@click.option("--include-shell", is_flag=True, help="Keep /bin/sh and what it needs.")
@click.option("--keep-accounts", is_flag=True, help="Keep /etc/passwd and /etc/group as they are, not reduced to "
              "the accounts in use (slim does so itself when a command line names the account file a process read).")
@click.option("--lang-completion", type=click.Choice(["imports", "full", "package", "off"]), default="imports", show_default=True,
              help="imports: the Python modules and Node files that kept code can import or require (found by "
                   "parsing it, so code paths the probes missed still load; a package whose code imports a name "
                   "built at run time is kept whole), and app content directories the app read; full: an "
                   "interpreter that ran keeps its whole standard library, and every language package with a "
                   "kept file keeps all of its code; package: only the latter; off: only what was traced and "
                   "its static closure.")
@click.option("--syscall-profile/--no-syscall-profile", default=True, show_default=True,
              help="Trace every syscall, or only those revealing files and processes (faster).")
@click.option("--seccomp-bpf/--no-seccomp-bpf", default=True, show_default=True,
              help="With --no-syscall-profile: strace filters in the kernel (setuid programs do not elevate).")
@click.option("--harden/--no-harden", default=True, show_default=True,
              help="Derive a least-privilege run profile (read-only root with tmpfs where the app writes, only "
                   "the capabilities it used, no-new-privileges, a seccomp allow-list) and verify the slim image "
                   "under it.")
@click.option("--seccomp-profile", "seccomp_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Where to write the seccomp profile. Default: NAME-TAG-seccomp.json beside --report, "
                   "else in the current directory.")
@click.option("--run-as", "run_as", metavar="nonroot|UID[:GID]",
              help="Rebase an image that runs as root on an unprivileged user: nonroot (uid/gid 65532, home "
                   "/home/nonroot, no login shell, as distroless images have it) or a numeric UID[:GID]. The slim "
                   "image gets that USER and ownership of the paths the app wrote, and is verified as that user.")
@click.option("--fail-on", "fail_on", type=click.Choice(["hardening"]), multiple=True,
              help="hardening: exit 10 when the slim image does not pass verification under its run profile "
                   "(by default that is a warning and the profile is marked verified: false). It is the one "
                   "check that is not a gate of its own: verification always fails the build (exit 8), sizes "
                   "have --max-size and --min-reduction. Needs --verify and --harden (exit 2 otherwise).")
@ci_options
@run_options
@click.pass_context
def build(ctx: click.Context, images: Sequence[str], from_file, jobs, tags, output, report_file, as_json, verify,
          keep_failed, include_paths, include_bins, exclude_patterns, include_shell, keep_accounts, lang_completion,
          syscall_profile, seccomp_bpf, harden, seccomp_file, run_as, fail_on, max_size, min_reduction, junit_file,
          sbom_file, summary_file, push, allow_failing_probes, **kw) -> None:
    """Make a minimal FROM-scratch image of IMAGE that still works, and prove it.

    Runs IMAGE under strace while probing it (HTTP on exposed ports by default, plus --exec, --probe-cmd),
    keeps what it touched plus what that needs (libraries, interpreters, symlinks, language packages,
    essentials such as accounts, /tmp, os-release and a trimmed package database), writes a one-layer image
    with the original configuration, runs the same probes against it and compares. The original image is
    never modified. Exit code 17 when the original fails its own probes (before anything is written), 8 when
    the slim image does not behave the same (its output is removed unless --keep-failed); gates (--max-size,
    --min-reduction, --fail-on) have their own codes and are checked after the reports are written, and a
    gate that cannot be evaluated fails (exit 16); --push happens only when verification ran and passed and
    every gate passed. IMAGE may also be docker-archive:FILE or oci:DIR: it is loaded into the
    engine under a temporary tag, removed afterwards. Several IMAGEs (or --from-file) are built --jobs at a
    time, each as NAME:TAG-slim, with --report/--junit/--summary naming directories for one file per image.
    """
    images = image_list(images, from_file)
    refuse_contradictions(images, verify=verify, harden=harden, push=push, fail_on=fail_on, output=output,
                          one_image_options=bool(tags or seccomp_file or as_json), run_as=run_as, user=kw.get("user"))
    gates, trust = gates_of(max_size, min_reduction, fail_on), trust_options(kw, push, len(images) > 1, ctx.params)

    def options_for(image: str, report_path: str | None):
        ref = parse_reference(image)
        out_tags = tuple(tags) or (default_tag(ref.name, "slim"),)
        return ref, pipeline.BuildOptions(
            run=build_run_options(pipeline.run_image(ref), dict(kw)),
            plan=PlanOptions(tuple(include_paths), tuple(include_bins), tuple(exclude_patterns), include_shell,
                             lang_completion, keep_accounts),
            output=parse_output(output), tags=out_tags, verify=verify, keep_failed=keep_failed,
            tracing=pipeline.TraceOptions(syscall_profile, seccomp_bpf), harden=harden,
            seccomp_file=os.path.abspath(seccomp_file or _default_seccomp_file(out_tags[0], report_path)),
            run_as=parse_run_as(run_as) if run_as else None, allow_failing_probes=allow_failing_probes)

    if len(images) > 1:
        from slim.cli.many import build_many

        outputs = Outputs(report_file or "slim-reports", junit_file, summary_file, False, push, keep_failed, sbom_file,
                          trust)
        return build_many(ctx, images, jobs, options_for, outputs, gates)
    ref, opts = options_for(images[0], report_file)
    phases, engine = run_context(ctx)
    outputs = Outputs(report_file, junit_file, summary_file, as_json, push, keep_failed, sbom_file, trust)
    with failure_recorded(outputs, images[0]), workspace(ctx) as ws:
        report = pipeline.build(ref, opts, ws, engine, phases)
    finish_build(report, outputs, gates, engine)


@main.command(name="cleanup")
@click.option("--all", "everything", is_flag=True,
              help="Also remove the caches: the tracer bundle volume and the import scan cache file (both are "
                   "rebuilt on next use).")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.pass_context
def cleanup_command(ctx: click.Context, everything: bool, dry_run: bool) -> None:
    """Remove what slim runs that were killed left behind.

    Containers, volumes and temporary tags labelled by a slim process of this host that no longer exists, and
    work directories of such runs under --work-dir (default: the system temp dir). Runs still going, and
    objects made by slim on another host sharing the engine, are left alone. slim build does this itself
    when it starts. Each thing is listed as removed, or as not removed with the reason. Exit codes: 0 all
    removed (or nothing to do), 15 something could not be removed, 5 no engine answers (work directories
    are still cleaned).
    """
    from slim import cleanup
    from slim.errors import CleanupIncomplete

    engine, engine_error = None, None
    try:
        ctx.find_root().obj["engine"] = LazyEngine(ctx.find_root().obj["engine_kind"])
        engine = ctx.find_root().obj["engine"].get()
        found = cleanup.find_dead(engine, ctx.obj["work_dir"], everything)
    except SlimError as exc:  # no engine: the work directories are still ours to clean
        engine_error, found = exc, cleanup.find_work_dirs(ctx.obj["work_dir"], everything)
    if dry_run:
        done = cleanup.Removal()
        for line in found.lines():
            click.echo(visible("would remove " + line))
    else:
        done = cleanup.remove(engine, found)
        for line in done.removed:
            click.echo(visible("removed " + line))
        for line, reason in done.failed:
            click.echo(visible(f"could not remove {line}: {reason}"))
    if not len(found):  # without an engine, only this host's files were looked at
        click.echo("nothing to clean up" if engine_error is None else "nothing to clean up on this host; the engine "
                   "was not checked (it did not answer)")
    if engine_error is not None:
        raise engine_error
    if done.failed:
        raise CleanupIncomplete(f"{len(done.failed)} of {len(found)} leftovers could not be removed (listed above)")


def refuse_contradictions(images: Sequence[str], verify: bool, harden: bool, push: bool, fail_on: tuple[str, ...],
                          output: str, one_image_options: bool, run_as: str | None, user: str | None) -> None:
    """Options that contradict each other, above all ones that ask for a proof together with ones that rule
    it out: exit 2 before anything runs."""
    if run_as and user:
        raise UsageError("--run-as and --user both say who runs the image: give one")
    if push and not output == "docker":
        raise UsageError("--push pushes tags from the engine: use it with --output docker")
    if len(images) > 1 and one_image_options:
        raise UsageError("-t, --seccomp-profile and --json are about one image: with several, each result is "
                         "NAME:TAG-slim and its files go to the --report directory")
    if push and not verify:
        raise UsageError("--push with --no-verify: slim pushes only images it verified; drop --no-verify")
    if "hardening" in fail_on and not verify:
        raise UsageError("--fail-on hardening with --no-verify: the run profile is proven against the "
                         "verification run; drop --no-verify")
    if "hardening" in fail_on and not harden:
        raise UsageError("--fail-on hardening with --no-harden: there would be no run profile to check; "
                         "drop one of them")


def _default_seccomp_file(tag: str, report_file: str | None) -> str:
    """web:1.2-slim -> web-1.2-slim-seccomp.json, beside the report or in the current directory."""
    name = file_name(tag) + "-seccomp.json"
    return os.path.join(os.path.dirname(os.path.abspath(report_file)) if report_file else os.getcwd(), name)


def default_tag(name: str, suffix: str) -> str:
    """"web:1.2" -> "web:1.2-slim"; the suffix goes on the tag so the repository name stays the user's."""
    if "@" in name:
        return f"{name.split('@', 1)[0]}:{suffix}"  # "web@sha256:..." -> "web:slim"
    bare = name.removeprefix("sha256:").removesuffix(":latest")
    if len(bare) >= 12 and all(c in "0123456789abcdef" for c in bare):
        raise UsageError(f"{name} is an image ID: name the result with --tag")
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    return f"{repo}:{tag}-{suffix}"


from slim.cli.views import compare, doctor, lint, sbom  # noqa: E402  (the commands need `main` defined first)
from slim.cli.trust import COMMANDS as TRUST_COMMANDS  # noqa: E402  (keygen, verify-signature, ...)

main.commands.update({"sbom": sbom, "compare": compare, "lint": lint, "doctor": doctor, **TRUST_COMMANDS})

if __name__ == "__main__":
    sys.exit(main())
