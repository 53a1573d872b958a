"""Benchmark: static closure of every ELF file of an image, after the RootFS is available.

Run: .venv/bin/python bench/closure.py [IMAGE] [--runs N]   (default: the many-libs sample, ~270 MB)
Target (issue 3): under 1 s for all ELF files (about 800-1000). Reports medians, and the per-file parse cost of
slim's reader next to pyelftools' (the reason slim reads PT_DYNAMIC itself).
"""

from __future__ import annotations

import argparse
import statistics
import time

from slim.closure.walk import closure_of, env_dict
from slim.closure.elf.reader import read_elf
from slim.engine import connect
from slim.image.reference import parse_reference
from slim.image.source import read_image
from slim.workspace import Workspace


def elf_paths(rootfs) -> list[str]:
    out = []
    for entry in rootfs.walk():
        if entry.kind == "file" and entry.size >= 64:
            with rootfs.open(entry.path) as fh:
                if fh.read(4) == b"\x7fELF":
                    out.append(entry.path)
    return out


def parse_all(rootfs, paths, parse) -> float:
    start = time.monotonic()
    for path in paths:
        with rootfs.open(path) as fh:
            parse(fh, rootfs.lstat(path).size)
    return time.monotonic() - start


def pyelftools_parse(fh, size):
    from elftools.elf.elffile import ELFFile

    for seg in ELFFile(fh).iter_segments():
        if seg["p_type"] == "PT_DYNAMIC":
            list(seg.iter_tags())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("image", nargs="?", default="slim-sample/many-libs:1")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    engine = connect()
    with Workspace() as ws:
        image = read_image(parse_reference(args.image), ws, engine)
        rootfs = image.rootfs()
        paths = elf_paths(rootfs)
        env = env_dict(image.run_config.get("Env"))
        times, kept = [], 0
        for _ in range(args.runs):
            start = time.monotonic()
            closure = closure_of(rootfs, paths, env)  # a fresh resolver each run: no warm caches
            times.append(time.monotonic() - start)
            kept = len(closure.keep)
        ours = statistics.median(parse_all(rootfs, paths, read_elf) for _ in range(args.runs))
        print(f"image: {args.image}: {len(paths)} ELF files, closure keeps {kept} paths")
        print(f"closure of all ELF files   median {statistics.median(times):.3f} s (target < 1 s)")
        print(f"slim reader                {ours / len(paths) * 1000:.3f} ms/file")
        try:
            theirs = statistics.median(parse_all(rootfs, paths, pyelftools_parse) for _ in range(min(args.runs, 3)))
            print(f"pyelftools (same fields)   {theirs / len(paths) * 1000:.3f} ms/file ({theirs / ours:.0f}x slower)")
        except ImportError:
            print("pyelftools not installed: pip install '.[test]' to compare")


if __name__ == "__main__":
    main()
