"""Build the comparison's app on Debian and on Alpine, slim both, and write `slim compare` of the four images
(table and chart) into samples/README.md, and its `--json --packages` output (abridged) as the example of
docs/commands.md. Nothing in either is typed by hand.

Run: .venv/bin/python samples/compare/make_comparison.py   (needs the Docker engine and base images:
scripts/setup). The slim images are removed afterwards; the two originals stay, as the other samples do. Each
build's seccomp profile goes to a temporary directory (by default it would land in the current directory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from readme_section import abridged, json_block, page, paragraph, replace_section  # noqa: E402

SLIM = os.path.join(os.path.dirname(sys.executable), "slim")
BASES = ("debian", "alpine")
CHART = "compare/comparison.svg"  # relative to samples/, where the README is


def run(*argv: str, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, text=True, capture_output=True, **kw)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: failed ({done.returncode}): {done.stderr.strip()}")
    return done


def main() -> None:
    originals = [f"slim-sample/compare:{base}" for base in BASES]
    slimmed = [f"{image}-slim" for image in originals]
    for base, image in zip(BASES, originals, strict=True):
        print(f"building {image}...", file=sys.stderr)
        run("docker", "build", "-q", "-t", image, "-f", os.path.join(HERE, f"Dockerfile.{base}"), HERE)
    try:
        with tempfile.TemporaryDirectory(prefix="compare-sample-") as tmp:
            for image, out in zip(originals, slimmed, strict=True):
                print(f"slimming {image}...", file=sys.stderr)
                run(SLIM, "-q", "build", image, "-t", out, "--continue-after", "exit",
                    "--seccomp-profile", os.path.join(tmp, "seccomp.json"), cwd=tmp)
        images = [originals[0], slimmed[0], originals[1], slimmed[1]]
        table = run(SLIM, "-q", "compare", *images, "--markdown",
                    "--chart", os.path.join(os.path.dirname(HERE), CHART)).stdout
        doc = json.loads(run(SLIM, "-q", "compare", *images, "--json", "--packages").stdout)
    finally:
        subprocess.run(["docker", "rmi", "-f", *slimmed], capture_output=True)
    replace_section("compare", f"""## Debian vs Alpine vs slimmed

The same batch job (`compare/app/report.sh`: a shell script that sums a CSV with awk) on
`slim-base/debian:bookworm` and on `slim-base/alpine:3.20`, each slimmed with `slim build --continue-after exit`,
side by side (`slim compare --markdown --chart`). `compare/make_comparison.py` writes this section.

{table}
![size and packages per image]({CHART})
""")
    intro = (f"`slim compare {' '.join(images)} --json --packages` (schema `slim.compare/1`; abridged to the first "
             "image, written by `samples/compare/make_comparison.py`):")
    replace_section("example-compare", f"{paragraph(intro)}\n\n{json_block(abridged(doc, items=1))}",
                    page("commands.md"))
    print(table)


if __name__ == "__main__":
    main()
