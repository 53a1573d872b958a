"""Fuzz slim's parsers of untrusted input with hypothesis: each must end in a result or slim's own error.

    .venv/bin/python bench/fuzz.py [--examples 100000] [--only NAME ...]

Not part of the test suite (100,000 inputs per parser take minutes). Inputs are random bytes, and random
mutations of real-looking seeds (a strace line, a dpkg stanza, an ELF header...), so the fuzzer gets past
the first check of each format. Prints, per parser, how many inputs ran, how many ended in slim's own error,
and any other exception (with a reproducer), then exits 1 if there was one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from slim.closure.elf.ldcache import LdCacheError, parse_ld_cache  # noqa: E402
from slim.closure.elf.ldconf import parse_ld_conf_text  # noqa: E402
from slim.closure.elf.reader import ElfError, read_elf  # noqa: E402
from slim.packages import apk, dpkg  # noqa: E402
from slim.closure.shebang import env_command, parse_shebang  # noqa: E402
from slim.errors import SlimError  # noqa: E402
from slim.image import documents  # noqa: E402
from tracers.strace_parser import parse_strace  # noqa: E402

OWN_ERRORS = (SlimError, ElfError, LdCacheError)  # what the parsers document raising for input they refuse

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
}


def _try(fn, *args):
    try:
        return fn(*args)
    except SlimError:
        return None


def fuzz(name: str, examples: int) -> dict:
    counts = {"inputs": 0, "slim_errors": 0, "crashes": []}
    target = TARGETS[name]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(_mutated(SEEDS[name]))
    def run(data: bytes) -> None:
        counts["inputs"] += 1
        try:
            target(data)
        except OWN_ERRORS:
            counts["slim_errors"] += 1
        except Exception as exc:  # noqa: BLE001 - the point of the exercise
            if len(counts["crashes"]) < 5:
                counts["crashes"].append(f"{type(exc).__name__}: {exc} <- {data[:200]!r}")

    run()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS))
    args = parser.parse_args()
    failed = False
    print(f"{'parser':10} {'inputs':>8} {'slim errors':>12} {'crashes':>8} {'seconds':>8}")
    for name in args.only or sorted(TARGETS):
        started = time.monotonic()
        counts = fuzz(name, args.examples)
        print(f"{name:10} {counts['inputs']:8} {counts['slim_errors']:12} {len(counts['crashes']):8} "
              f"{time.monotonic() - started:8.1f}", flush=True)
        for crash in counts["crashes"]:
            print("   ", crash)
        failed |= bool(counts["crashes"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
