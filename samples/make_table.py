"""Build every sample, slim it with its probes, and write samples/README.md from the reports.

Run: .venv/bin/python samples/make_table.py   (needs the Docker engine and base images: scripts/setup)
The figures in the README come from this script only; nothing there is typed by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from readme_section import replace_section

HERE = os.path.dirname(os.path.abspath(__file__))
SLIM = os.path.join(os.path.dirname(sys.executable), "slim")


def mb(n) -> str:
    return f"{n / 1e6:.1f} MB" if n is not None else "-"


def samples() -> list[tuple[str, dict]]:
    out = []
    for name in sorted(os.listdir(HERE)):
        spec_file = os.path.join(HERE, name, "sample.json")
        if os.path.isfile(spec_file):
            with open(spec_file) as fh:
                spec = json.load(fh)
            if spec["kind"] != "test-only":
                out.append((name, spec))
    return out


def slim_one(name: str, spec: dict) -> dict:
    subprocess.run(["docker", "build", "-q", "-t", spec["tag"], os.path.join(HERE, name)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        proc = subprocess.run([SLIM, "-q", "build", spec["tag"], "--report", report, *spec["args"]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not os.path.exists(report):
            raise SystemExit(f"{name}: slim build failed: {proc.stderr.strip()}")
        with open(report) as fh:
            return json.load(fh)


def main() -> None:
    rows = []
    for name, spec in samples():
        print(f"slimming {name}...", file=sys.stderr)
        r = slim_one(name, spec)
        s, p, v, lang = r["size"], r["packages"], r["verification"], r["language_completion"]["bytes_by_level"]
        rows.append(
            f"| {name} | `{' '.join(spec['args']) or '(none)'}` | {mb(s['original_docker_bytes'])} | {mb(s['slim_docker_bytes'])} "
            f"| {100 * (1 - s['slim_docker_bytes'] / s['original_docker_bytes']):.0f}% "
            f"| {r['files']['original']} → {r['files']['slim']} | {p['original']} → {p['slim']} ({p['database']}) "
            f"| {mb(s['traced_and_closure_bytes'])} | {mb(r['keep']['by_category']['content']['bytes'])} "
            f"| {mb(lang['imports'])} / {mb(lang['full'])} / {mb(lang['package'])} "
            f"| {'passed' if v['passed'] else 'FAILED'} |")
    replace_section("samples", _HEADER + "\n".join(rows) + "\n" + _FOOTER)
    print("\n".join(rows))


_HEADER = """Small apps built `FROM slim-base/debian:bookworm` (and one `FROM slim-base/alpine:3.20`), each with the probes
that exercise it (`sample.json`). `samples/make_table.py` builds them, runs `slim build` on each and writes this
table from the JSON reports; the figures are not typed by hand.

| sample | probes | original | slim | smaller by | files | packages | traced + closure | app content | language completion (imports / full / package) | verification |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
"""

_FOOTER = """
- **original / slim**: the image size Docker reports (`docker images`).
- **traced + closure**: bytes of the files the traced run touched plus their static closure. The rest of the slim
  image is essentials (accounts, os-release, the trimmed package database), app content and language completion.
- **app content**: the rest of directories of app files the app read (pages and templates no probe asked for).
- **language completion**: what `--lang-completion imports` (the default: the static import closure), `full` and
  `package` add on top of what was kept otherwise; `off` adds nothing. Only `imports` and `full` keep modules
  that code paths the probes missed import lazily.
- `many-libs/` is no sample of its own: the static-closure oracle test and the benchmarks use it.
"""


if __name__ == "__main__":
    main()
