"""Benchmark slim build on the samples: size, time and memory against the issue-5 targets. Medians of N runs.

Run: .venv/bin/python bench/build.py [--runs N] [--engine docker|podman] [SAMPLE...]
(--engine podman: the samples are copied into Podman's store first; issue 12: build time within 1.5x of Docker's)
- size: slim image content <= 1.25x (files the traced run touched + their static closure); the rest is itemized
- time: slim build wall time <= 2x (untraced probe run of the original + `docker save` of the original)
- memory: peak RSS of slim build < 300 MB
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import run_measured, shell_seconds  # noqa: E402

from slim.engine import connect  # noqa: E402
from slim.cli.options import build_run_options  # noqa: E402
from slim.run.runner import run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLIM = os.path.join(os.path.dirname(sys.executable), "slim")


def untraced_seconds(engine, image: str, args: list[str]) -> float:
    """The same probe run, no tracing: parse the sample's args exactly as slim does."""
    import click

    from slim.cli.options import run_options

    captured = {}

    @click.command(context_settings={"ignore_unknown_options": True})
    @run_options
    def grab(**kw):
        captured["options"] = build_run_options(image, kw)

    grab.main(args, standalone_mode=False)
    result = run(engine, captured["options"])
    return result.seconds["total"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="*")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engine", choices=("docker", "podman"), default="docker")
    args = ap.parse_args()
    engine = connect(args.engine)
    names = args.samples or sorted(d for d in os.listdir(f"{ROOT}/samples") if os.path.isfile(f"{ROOT}/samples/{d}/sample.json"))
    print(f"{'sample':15} {'size ratio':>10} {'build s':>8} {'run+save s':>10} {'time ratio':>10} {'peak RSS':>9}")
    for name in names:
        with open(f"{ROOT}/samples/{name}/sample.json") as fh:
            spec = json.load(fh)
        if spec["kind"] == "test-only":
            continue
        image, sample_args = spec["tag"], spec["args"]
        if args.engine == "podman" and engine.find_image(image) is None:
            shell_seconds(f"docker save {image} | podman load -q")  # the rootful store; rootless: load it yourself
        builds, rss, report = [], 0, None
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.runs):
                seconds, peak = run_measured([SLIM, "-q", "--engine", args.engine, "build", image, "-t",
                                              "slim-bench/out:1", "--report",
                                              f"{tmp}/r.json", *sample_args])
                builds.append(seconds)
                rss = max(rss, peak)
            with open(f"{tmp}/r.json") as fh:
                report = json.load(fh)
        engine.remove_image("slim-bench/out:1")
        plain = statistics.median(untraced_seconds(engine, image, sample_args) for _ in range(args.runs))
        save = statistics.median(shell_seconds(f"{args.engine} save {image} > /dev/null") for _ in range(args.runs))
        size = report["size"]
        size_ratio = size["slim_content_bytes"] / max(size["traced_and_closure_bytes"], 1)
        build = statistics.median(builds)
        print(f"{name:15} {size_ratio:>9.2f}x {build:>8.2f} {plain + save:>10.2f} {build / (plain + save):>9.2f}x "
              f"{rss / 1e6:>7.0f}MB")
        lang = report["language_completion"]["bytes_by_level"]
        print(f"{'':15} traced+closure {size['traced_and_closure_bytes'] / 1e6:.1f} MB, slim {size['slim_content_bytes'] / 1e6:.1f} MB; "
              f"language completion full {lang['full'] / 1e6:.1f} MB, package {lang['package'] / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
