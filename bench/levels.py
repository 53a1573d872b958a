"""Benchmark: what each language completion level costs on the samples, as the ratio of the slim image's content
to the bytes the traced run touched plus their static closure (ELF libraries, interpreters, links), and what the
app-content rule adds. Sizes do not vary between runs, so one build per sample; the build also records every
level's cost (report: language_completion.bytes_by_level), so the table needs no build per level.

Run: .venv/bin/python bench/levels.py [SAMPLE...]   (issue 13: imports <= 1.05x on every sample)
Where the Python samples' `imports` bytes go, cause by cause: bench/py_surplus.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLIM = os.path.join(os.path.dirname(sys.executable), "slim")
LEVELS = ("off", "imports", "package", "full")


def ratios(report: dict) -> dict[str, float]:
    """slim content at each level: what the chosen level kept, with its language bytes swapped for the level's."""
    size, lang = report["size"], report["language_completion"]
    base = size["slim_content_bytes"] - lang["bytes_by_level"][lang["level"]]
    return {level: (base + lang["bytes_by_level"][level]) / max(size["traced_and_closure_bytes"], 1)
            for level in LEVELS}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="*")
    args = ap.parse_args()
    names = args.samples or sorted(d for d in os.listdir(f"{ROOT}/samples")
                                   if os.path.isfile(f"{ROOT}/samples/{d}/sample.json"))
    print("| sample | traced+closure | " + " | ".join(LEVELS) + " | app content added | imports: kept whole "
          "| imports without them |")
    print("|---|---:|" + "---:|" * len(LEVELS) + "---:|---:|---:|")
    for name in names:
        with open(f"{ROOT}/samples/{name}/sample.json") as fh:
            spec = json.load(fh)
        if spec["kind"] == "test-only":
            continue
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([SLIM, "-q", "build", spec["tag"], "-t", "slim-bench/levels:1", "--no-harden",
                            "--report", f"{tmp}/r.json", *spec["args"]], check=True, stdout=subprocess.DEVNULL)
            with open(f"{tmp}/r.json") as fh:
                report = json.load(fh)
        subprocess.run(["docker", "rmi", "-f", "slim-bench/levels:1"], check=True, stdout=subprocess.DEVNULL)
        found = ratios(report)
        content = report["keep"]["by_category"].get("content", {}).get("bytes", 0)
        # packages kept whole at the imports level because their code names modules at run time
        whole = sum(report["language_completion"].get("kept_whole", {}).values())
        without = found["imports"] - whole / max(report["size"]["traced_and_closure_bytes"], 1)
        print(f"| {name} | {report['size']['traced_and_closure_bytes'] / 1e6:.1f} MB | "
              + " | ".join(f"{found[level]:.3f}x" for level in LEVELS) + f" | {content / 1e3:.1f} kB "
              f"| {whole / 1e6:.2f} MB | {without:.3f}x |")


if __name__ == "__main__":
    main()
