"""Fuzz slim's parsers of untrusted input with hypothesis: each must end in a result or slim's own error.

    .venv/bin/python bench/fuzz.py [--examples 100000] [--only NAME ...]

Not part of the test suite (100,000 inputs per parser take minutes). Inputs are random bytes, and random
mutations of real-looking seeds (a strace line, a dpkg stanza, an ELF header, a gemspec, a jar...), so the
fuzzer gets past the first check of each format; Java archives are also built whole from generated members
(names, manifests, pom.properties, archives inside) before their bytes are mutated. Prints, per parser, how
many inputs ran, how many ended in slim's own error, the slowest input, and any other exception or any input
slower than --slow seconds (with a reproducer), then exits 1 if there was one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import warnings
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from slim.closure.elf.ldcache import LdCacheError, parse_ld_cache  # noqa: E402
from slim.closure.elf.ldconf import parse_ld_conf_text  # noqa: E402
from slim.closure.elf.reader import ElfError, read_elf  # noqa: E402
from slim.packages import apk, dpkg, gems, jarnames, jars  # noqa: E402
from slim.langs import rubypath, rubyspecs  # noqa: E402
from slim.closure.shebang import env_command, parse_shebang  # noqa: E402
from slim.errors import SlimError  # noqa: E402
from slim.image import documents  # noqa: E402
from tracers.strace_parser import parse_strace  # noqa: E402

OWN_ERRORS = (SlimError, ElfError, LdCacheError)  # what the parsers document raising for input they refuse
JAVA = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "java")
GEMS = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "gems")


def _files(top: str) -> dict[str, bytes]:
    """Every file under `top`, by its path relative to it: the real metadata the seeds are made of."""
    out = {}
    for directory, _, names in os.walk(top):
        for name in names:
            with open(os.path.join(directory, name), "rb") as fh:
                out[os.path.relpath(os.path.join(directory, name), top)] = fh.read()
    return out


def _zip(members: list[tuple[str, bytes]], stored: bool = False) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED if stored else
                                                    zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # a name twice is what a hostile archive may well hold
        for name, data in members:
            info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
            if info.filename:  # zipfile cuts a name at its first NUL
                info.compress_type = zf.compression
                zf.writestr(info, data)
    return buf.getvalue()


_JAVA_FILES = _files(JAVA)
_JARS = [_zip([(k.split("/", 1)[1], v) for k, v in _JAVA_FILES.items() if k.startswith(d + "/")])
         for d in sorted({k.split("/", 1)[0] for k in _JAVA_FILES})]
_WAR = _zip([("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\n\r\n"),
             *((f"WEB-INF/lib/lib{i}-1.{i}.jar", j) for i, j in enumerate(_JARS[:3]))], stored=True)

SEEDS = {
    "strace": [b'123 openat(AT_FDCWD</app>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>\n',
               b'7 execve("/usr/bin/python3", ["python3", "-m", "app"], 0x7ffd /* 5 vars */) = 0\n',
               b'9 +++ exited with 0 +++\n12 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID) = 13\n',
               b'5 stat("/usr/lib/python3.11/os.py", {st_mode=S_IFREG|0644, st_size=39504, ...}) = 0\n'],
    "dpkg": [b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n"
             b"Description: GNU C Library\n shared libraries\n\nPackage: zlib1g\nVersion: 1:1.2.13\n\n"],
    "apk": [b"C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1x=\n\n"
            b"P:busybox\nV:1.36\nF:bin\nR:busybox\n\n"],
    "elf": [bytes.fromhex("7f454c4602010100000000000000000003003e0001000000") + bytes(40) +
            bytes.fromhex("40003800") + bytes(8)],
    "ldcache": [b"glibc-ld.so.cache1.1" + bytes(12) + b"\x00" * 64],
    "shebang": [b"#!/usr/bin/env python3 -u\nprint(1)\n", b"#! /bin/sh\n", b"#!/usr/bin/env -S node --x\n"],
    "ldconf": [b"include /etc/ld.so.conf.d/*.conf\n/usr/local/lib\n# comment\n"],
    "documents": [json.dumps([{"Config": "c.json", "Layers": ["a/layer.tar"], "RepoTags": ["x:1"]}]).encode(),
                  json.dumps({"config": {"Env": ["A=1"], "Cmd": ["sh"]}, "rootfs": {"diff_ids": []},
                              "history": [{"created_by": "x"}]}).encode(),
                  json.dumps({"manifests": [{"digest": "sha256:" + "0" * 64, "size": 1}]}).encode()],
    "gemspec": [*(v for k, v in sorted(_files(GEMS).items())),  # and the rbconfig.rb that names the gem dirs
                b'TOPDIR = File.dirname(__FILE__).chomp!("/lib/x86_64-linux-gnu/ruby/3.1.0")\n'
                b'  CONFIG["ruby_version"] = "3.1.0"\n  CONFIG["rubylibdir"] = "$(rubylibprefix)/$(ruby_version)"\n'],
    "manifest": [v for k, v in sorted(_JAVA_FILES.items()) if k.endswith("MANIFEST.MF")],
    "pom": [v for k, v in sorted(_JAVA_FILES.items()) if k.endswith("pom.properties")],
    "jarname": [b"commons-lang3-3.12.0.jar", b"tomcat10-catalina-10.1.55.jar", b"bootstrap.jar", b"foo_1.2.jar",
                b"org.eclipse.osgi_3.18.0.v20220516-2155.jar", b"spring-boot-3.2.0-RC1.war", b"x-rc1.jar"],
    "jar": [*_JARS, _WAR],
}


def _mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """A seed with random bytes spliced in, cut, or repeated; or plain random bytes."""
    def splice(args):
        seed, at, junk, cut = args
        at %= len(seed) + 1
        return seed[:at] + junk + seed[at + cut:]
    mutations = st.tuples(st.sampled_from(seeds), st.integers(0, 4096), st.binary(max_size=64),
                          st.integers(0, 32)).map(splice)
    return st.one_of(st.binary(max_size=2048), mutations, mutations.map(lambda b: b * 3))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _member_names() -> st.SearchStrategy[str]:
    """Member names a hostile archive could carry: the ones the reader looks for, archives, climbing paths."""
    parts = st.sampled_from(["META-INF", "MANIFEST.MF", "maven", "g", "a", "pom.properties", "pom.xml", "WEB-INF",
                             "lib", "x.jar", "y.war", "..", "", "BOOT-INF", "z.zip", "\x00", "é"])
    return st.lists(parts, min_size=1, max_size=6).map("/".join).filter(bool)


def _built_archives() -> st.SearchStrategy[bytes]:
    """Whole archives from generated members (real metadata, random bytes, real archives as members), nested
    up to twice, then maybe with a few bytes spliced in."""
    data = st.one_of(st.binary(max_size=256), st.sampled_from(SEEDS["manifest"] + SEEDS["pom"] + SEEDS["jar"]))
    member = st.tuples(_member_names(), data)
    flat = st.lists(member, max_size=8).map(_zip)
    nested = st.lists(st.one_of(member, st.tuples(st.sampled_from(["lib/in.jar", "WEB-INF/lib/w.jar"]), flat)),
                      max_size=6).map(_zip)
    return st.one_of(flat, nested).flatmap(lambda z: st.one_of(st.just(z), _mutated([z])))


def _gemspec(data: bytes) -> None:
    text = _text(data)
    gems.parse_gemspec(data)
    rubypath.parse_gemspec(text, "/usr/lib/ruby/gems/3.1.0/specifications/x-1.0.gemspec")
    rubyspecs.runtime_dependencies(text)
    rubypath.list_field(text, "files")
    rubypath.read_config(text, "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/rbconfig.rb")


def _manifest(data: bytes) -> None:
    manifest = jarnames.parse_manifest(_text(data))
    for file_name in ("tomcat10-catalina-10.1.55.jar", "bootstrap.jar", ""):
        jarnames.select_name(manifest, file_name), jarnames.select_version(manifest, file_name)
    jarnames.group_of(manifest, None)


def _pom(data: bytes) -> None:
    pom = jarnames.parse_pom_properties(_text(data))
    jarnames.group_of(jarnames.parse_manifest(""), pom)
    if pom is not None:
        jarnames.artifact_fits_file_name(pom.artifact, "jopt-simple", {pom.artifact})


def _jarname(data: bytes) -> None:
    name, _ = jarnames.split_file_name(_text(data))
    jarnames.name_from_file_name(name)


def _jar(data: bytes) -> None:
    for location in ("/app/x.jar", "/app/x.zip"):
        jars.read_archive(io.BytesIO(data), location)


TARGETS = {
    "strace": lambda d: parse_strace(_text(d).splitlines()),
    "dpkg": lambda d: (dpkg.parse_stanzas(io.BytesIO(d)), dpkg.parse_file_list(io.BytesIO(d)),
                       dpkg.parse_md5sums(io.BytesIO(d))),
    "apk": lambda d: apk.parse_installed(io.BytesIO(d)),
    "elf": lambda d: read_elf(io.BytesIO(d), len(d)),
    "ldcache": lambda d: parse_ld_cache(io.BytesIO(d)),
    "shebang": lambda d: (lambda r: env_command(r[1]) if r else None)(parse_shebang(d)),
    "ldconf": lambda d: parse_ld_conf_text(_text(d)),
    "documents": lambda d: [_try(documents.parse, d, s, "fuzz") for s in
                            (documents.DOCKER_MANIFEST, documents.IMAGE_CONFIG, documents.OCI_INDEX,
                             documents.OCI_MANIFEST)],
    "gemspec": _gemspec,
    "manifest": _manifest,
    "pom": _pom,
    "jarname": _jarname,
    "jar": _jar,
}
# parsers whose inputs are also built with the format's structure, not only mutated from seeds
STRATEGIES = {"jar": lambda: st.one_of(_mutated(SEEDS["jar"]), _built_archives())}


def _try(fn, *args):
    try:
        return fn(*args)
    except SlimError:
        return None


def _quietly(target, data: bytes) -> None:
    try:
        target(data)
    except Exception:  # noqa: BLE001 - counted on the first run
        pass


def fuzz(name: str, examples: int, slow: float) -> dict:
    counts = {"inputs": 0, "slim_errors": 0, "crashes": [], "slowest": 0.0, "slowest_input": b""}
    target = TARGETS[name]
    inputs = STRATEGIES[name]() if name in STRATEGIES else _mutated(SEEDS[name])

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def run(data: bytes) -> None:
        counts["inputs"] += 1
        started = time.monotonic()
        try:
            target(data)
        except OWN_ERRORS:
            counts["slim_errors"] += 1
        except Exception as exc:  # noqa: BLE001 - the point of the exercise
            if len(counts["crashes"]) < 5:
                counts["crashes"].append(f"{type(exc).__name__}: {exc} <- {data[:200]!r}")
        took = time.monotonic() - started
        if took > slow:  # once more: a pause of the machine (other jobs, a collection) is no slow parser
            started = time.monotonic()
            _quietly(target, data)
            took = min(took, time.monotonic() - started)
        if took > counts["slowest"]:
            counts["slowest"], counts["slowest_input"] = took, data
        if took > slow and len(counts["crashes"]) < 5:  # a parser of hostile input must not hang on one
            counts["crashes"].append(f"slow: {took:.1f} s <- {len(data)} bytes {data[:200]!r}")

    run()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS))
    parser.add_argument("--slow", type=float, default=0.25, help="seconds one input may take, twice (default 0.25)")
    args = parser.parse_args()
    failed = False
    print(f"{'parser':10} {'inputs':>8} {'slim errors':>12} {'crashes':>8} {'slowest s':>10} {'seconds':>8}")
    for name in args.only or sorted(TARGETS):
        started = time.monotonic()
        counts = fuzz(name, args.examples, args.slow)
        print(f"{name:10} {counts['inputs']:8} {counts['slim_errors']:12} {len(counts['crashes']):8} "
              f"{counts['slowest']:10.3f} {time.monotonic() - started:8.1f}", flush=True)
        for crash in counts["crashes"]:
            print("   ", crash)
        if counts["slowest"] > args.slow / 10:  # worth a look before it grows into a hang
            print(f"    slowest input, {len(counts['slowest_input'])} bytes: {counts['slowest_input'][:200]!r}")
        failed |= bool(counts["crashes"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
