"""Benchmark: reading + flattening an image from the engine vs `docker save`; writing + loading a 20 MB result.

Run: .venv/bin/python bench/image_io.py [IMAGE] [--runs N]   (default image: the many-libs sample, ~270 MB)
Targets (issue 2): read+flatten within 2x of `docker save > /dev/null`, peak memory under 200 MB,
writing + loading a 20 MB result under 1 s. Reports medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import run_measured, shell_seconds  # noqa: E402

from slim.image.assemble import assemble  # noqa: E402
from slim.engine import connect  # noqa: E402
from slim.image.reference import parse_reference  # noqa: E402
from slim.image.sink import Output, write_image  # noqa: E402
from slim.image.source import read_image  # noqa: E402
from slim.workspace import Workspace  # noqa: E402

SLIM = os.path.join(os.path.dirname(sys.executable), "slim")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("image", nargs="?", default="slim-sample/many-libs:1")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    save = [shell_seconds(f"docker save {args.image} > /dev/null") for _ in range(args.runs)]
    measured = [run_measured([SLIM, "-q", "inspect", args.image]) for _ in range(args.runs)]
    read = [m[0] for m in measured]
    rss = max(m[1] for m in measured)
    print(f"image: {args.image}")
    print(f"docker save > /dev/null     median {statistics.median(save):.2f} s")
    print(f"slim inspect (read+flatten) median {statistics.median(read):.2f} s  "
          f"ratio {statistics.median(read) / statistics.median(save):.2f}x (target <= 2x)")
    print(f"slim inspect peak RSS       {rss / 1e6:.0f} MB (target < 200 MB)")

    engine = connect()
    with Workspace() as ws:
        image = read_image(parse_reference(args.image), ws, engine)
        root = image.rootfs()
        paths, total = [], 0
        for entry in root.walk():  # about 20 MB of files, as a slim result would be
            if entry.kind == "file" and total < 20_000_000:
                paths.append(entry.path)
                total += entry.size
        times = []
        for n in range(args.runs):
            with Workspace(ws.mkdir(f"w{n}")) as inner:
                start = time.monotonic()
                assembled = assemble(root, paths, image.config, args.image, image.image_id, inner)
                write_image(assembled, Output("docker"), ["slim-bench/write:1"], inner, engine)
                times.append(time.monotonic() - start)
                engine.remove_image("slim-bench/write:1")  # so the next run loads the layer for real
    print(f"assemble + load {total / 1e6:.0f} MB  median {statistics.median(times):.2f} s (target < 1 s)")


if __name__ == "__main__":
    main()
