"""The loader is the oracle: for every ELF file of a real image, slim's resolution equals ldd's inside a container."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from slim.closure.elf.reader import ElfError, read_elf
from slim.closure.elf.resolver import Resolver
from slim.engine.docker import DockerEngine
from slim.image.reference import parse_reference
from slim.image.source import read_image
from slim.workspace import Workspace

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "unit"))
from elfroot import compile_exe, compile_so

LDD_SCRIPT = 'while IFS= read -r f; do echo "@@@ $f"; %s "$f" 2>&1; done'


def parse_ldd(text: str) -> dict[str, tuple[set[str], set[str]]]:
    """file -> (paths ldd mapped, names it could not find), from the marked output of many ldd runs."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("@@@ "):
            current = line[4:]
            out[current] = (set(), set())
            continue
        line = line.strip()
        if current is None or not line or "vdso" in line:
            continue
        if "=>" in line:
            name, _, rest = line.partition("=>")
            rest = rest.strip()
            if rest.startswith("not found"):
                out[current][1].add(name.strip())
            elif rest.startswith("/"):
                out[current][0].add(rest.split(" (")[0])
        elif line.startswith("/") and " (0x" in line:
            out[current][0].add(line.split(" (")[0])
    return out


def elf_files(rootfs) -> list[str]:
    files = []
    for entry in rootfs.walk():
        if entry.kind != "file" or entry.size < 64:
            continue
        with rootfs.open(entry.path) as fh:
            if fh.read(4) != b"\x7fELF":
                continue
            try:
                info = read_elf(fh, entry.size)
            except ElfError:
                continue
        if info.dynamic and info.machine == 62 and info.elf_class == 64:
            files.append(entry.path)
    return files


def compare(engine, image: str, ldd_command: str, default_loader: str):
    with Workspace() as ws:
        loaded = read_image(parse_reference(image), ws, DockerEngine(engine))
        rootfs = loaded.rootfs()
        files = elf_files(rootfs)
        proc = subprocess.run(["docker", "run", "--rm", "-i", "--entrypoint", "sh", image, "-c",
                               LDD_SCRIPT % ldd_command], input="\n".join(files) + "\n",
                              capture_output=True, text=True, timeout=600)
        ldd = parse_ldd(proc.stdout)
        resolver = Resolver(rootfs)
        loader_real = rootfs.realpath(default_loader)
        differences = []
        for path in files:
            result = resolver.resolve(path)
            ours = {o.real for o in result.objects}
            if result.interpreter is not None:
                ours.add(result.interpreter.real)
            elif result.root.info.needed or result.flavor == "musl":
                ours.add(loader_real)  # ldd lists the loader it runs under (musl's always, glibc's once anything loads)
            ours.discard(rootfs.realpath(path))
            missing = {name for name, _ in result.missing}
            theirs_paths, theirs_missing = ldd.get(path, (set(), set()))
            theirs = {rootfs.realpath(p) or p for p in theirs_paths} - {rootfs.realpath(path)}
            if ours != theirs or missing != theirs_missing:
                differences.append(f"{path}: only slim {sorted(ours - theirs)} only ldd {sorted(theirs - ours)} "
                                   f"missing slim {sorted(missing)} ldd {sorted(theirs_missing)}")
    return files, differences


def test_every_elf_file_of_a_debian_image_matches_ldd(engine, build_sample):
    image = build_sample("many-libs")
    files, differences = compare(engine, image, "ldd", "/lib64/ld-linux-x86-64.so.2")
    print(f"compared {len(files)} ELF files; {len(differences)} differences")
    assert len(files) > 500
    assert not differences, "\n".join(differences)


@pytest.fixture(scope="module")
def musl_image(engine, tmp_path_factory):
    """Alpine's root plus musl-gcc binaries: one finds its library through /etc/ld-musl-x86_64.path, one via RUNPATH."""
    assert shutil.which("musl-gcc"), "musl-gcc is missing: scripts/setup installs musl-tools"
    ctx = str(tmp_path_factory.mktemp("musl"))
    compile_so(ctx, "/opt/greet/lib/libgreet.so", "int greet(void){return 7;}\n")
    os.rename(f"{ctx}/opt/greet/lib/libgreet.so", f"{ctx}/libgreet.so")
    subprocess.run(["musl-gcc", "-shared", "-fPIC", "-o", f"{ctx}/libgreet.so", "-x", "c", "-"],
                   input=b"int greet(void){return 7;}\n", check=True)
    main = "int greet(void); int main(void){return greet();}\n"
    compile_exe(ctx, "/hello-path", main, f"-L{ctx}", "-lgreet", compiler="musl-gcc")
    compile_exe(ctx, "/hello-runpath", main, f"-L{ctx}", "-lgreet", "-Wl,--enable-new-dtags",
                "-Wl,-rpath,$ORIGIN/../lib", compiler="musl-gcc")
    with open(f"{ctx}/Dockerfile", "w") as fh:
        fh.write("FROM slim-base/alpine:3.20\n"
                 "COPY libgreet.so /opt/greet/lib/libgreet.so\nCOPY libgreet.so /opt/rp/lib/libgreet.so\n"
                 "COPY hello-path /usr/local/bin/hello-path\nCOPY hello-runpath /opt/rp/bin/hello-runpath\n"
                 "RUN printf '/lib\\n/usr/local/lib\\n/usr/lib\\n/opt/greet/lib\\n' > /etc/ld-musl-x86_64.path\n")
    tag = "slim-test/musl-deps:1"
    subprocess.run(["docker", "build", "-q", "-t", tag, ctx], check=True, stdout=subprocess.DEVNULL)
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_musl_binaries_and_alpine_match_musl_loader(engine, musl_image):
    files, differences = compare(engine, musl_image, "/lib/ld-musl-x86_64.so.1 --list", "/lib/ld-musl-x86_64.so.1")
    assert "/usr/local/bin/hello-path" in files and "/opt/rp/bin/hello-runpath" in files
    assert not differences, "\n".join(differences)
    with Workspace() as ws:
        rootfs = read_image(parse_reference(musl_image), ws, DockerEngine(engine)).rootfs()
        got = {o.path for o in Resolver(rootfs).resolve("/opt/rp/bin/hello-runpath").objects}
        assert "/opt/rp/bin/../lib/libgreet.so" in got


def test_reader_agrees_with_pyelftools_on_every_elf_file(engine, build_sample):
    """pyelftools, an independent reader, is the oracle for the fields slim's fast reader takes from PT_DYNAMIC."""
    from elftools.elf.elffile import ELFFile

    with Workspace() as ws:
        rootfs = read_image(parse_reference(build_sample("many-libs")), ws, DockerEngine(engine)).rootfs()
        files = elf_files(rootfs)
        disagreements = []
        for path in files:
            size = rootfs.lstat(path).size
            with rootfs.open(path) as fh:
                ours = read_elf(fh, size)
                fh.seek(0)
                elf = ELFFile(fh)
                interp, tags = None, {}
                for seg in elf.iter_segments():
                    if seg["p_type"] == "PT_INTERP":
                        interp = seg.get_interp_name()
                    elif seg["p_type"] == "PT_DYNAMIC":
                        for tag in seg.iter_tags():
                            tags.setdefault(tag.entry.d_tag, []).append(tag)
            theirs = (
                interp,
                tuple(t.needed for t in tags.get("DT_NEEDED", [])),
                tags["DT_SONAME"][0].soname if "DT_SONAME" in tags else None,
                tuple(p for t in tags.get("DT_RPATH", []) for p in t.rpath.split(":") if p),
                tuple(p for t in tags.get("DT_RUNPATH", []) for p in t.runpath.split(":") if p),
            )
            if (ours.interpreter, ours.needed, ours.soname, ours.rpath, ours.runpath) != theirs:
                disagreements.append(f"{path}: slim {ours} pyelftools {theirs}")
    assert len(files) > 500
    assert not disagreements, "\n".join(disagreements[:20])


def test_slim_deps_command_agrees_with_ldd(engine, build_sample):
    """The command users run: its listed real files equal what ldd maps for nginx, curl and python3."""
    import json

    from click.testing import CliRunner

    from slim.cli import main

    image = build_sample("many-libs")
    paths = ["/usr/sbin/nginx", "/usr/bin/curl", "/usr/bin/python3.11"]
    result = CliRunner().invoke(main, ["-q", "deps", "--json", image, *paths])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    proc = subprocess.run(["docker", "run", "--rm", "-i", "--entrypoint", "sh", image, "-c", LDD_SCRIPT % "ldd"],
                          input="\n".join(paths) + "\n", capture_output=True, text=True, timeout=120)
    with Workspace() as ws:
        rootfs = read_image(parse_reference(image), ws, DockerEngine(engine)).rootfs()
        from_ldd = {rootfs.realpath(p) for mapped, _ in parse_ldd(proc.stdout).values() for p in mapped}
        kept_files = {e["path"] for e in doc["paths"] if rootfs.lstat(e["path"]).kind == "file"}
        libraries = {p for p in kept_files if any(r["kind"] in ("needed-by", "interpreter-of") for r in
                                                  next(e for e in doc["paths"] if e["path"] == p)["reasons"])}
    assert from_ldd == libraries
    assert doc["missing_libraries"] == []
