"""Write the JSON examples of the project's docs from real runs on the samples, so no figure there is typed
by hand: the build report (`slim build --report` of python-web with its probes), `slim inspect --json` of
python-web and `slim trace --json` of nginx-static with its probes, each abridged (lists cut to their first
items, digests elided; every key kept) between `<!-- begin:NAME -->` / `<!-- end:NAME -->` markers: the report in
docs/report.md, inspect and trace in docs/commands.md (PAGES).

Run: .venv/bin/python samples/make_readme_examples.py [report|inspect|trace ...]   (needs the Docker engine and
base images: scripts/setup). A rerun rewrites the same blocks; sizes only change with the images, timings with
the machine (the import scan cache starts empty each time). Every file slim writes goes to a temporary
directory; the slim image is removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from readme_section import abridged, json_block, page, paragraph, replace_section

HERE = os.path.dirname(os.path.abspath(__file__))
SLIM = os.path.join(os.path.dirname(sys.executable), "slim")
REPORT_SAMPLE, TRACE_SAMPLE = "python-web", "nginx-static"
# Maps whose keys are data (paths, syscall names, categories of files): cut like lists.
KEYED_BY_DATA = frozenset({"content_directories", "kept_whole", "syscalls", "bytes_by_level", "os"})


def spec_of(name: str) -> dict:
    with open(os.path.join(HERE, name, "sample.json")) as fh:
        spec = json.load(fh)
    subprocess.run(["docker", "build", "-q", "-t", spec["tag"], os.path.join(HERE, name)], check=True,
                   stdout=subprocess.DEVNULL)
    return spec


def slim_json(*argv: str, cwd: str) -> dict:
    done = subprocess.run([SLIM, "-q", *argv], capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"slim {' '.join(argv)}: failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def report_example(tmp: str) -> str:
    spec = spec_of(REPORT_SAMPLE)
    out, report = f"{spec['tag']}-slim", os.path.join(tmp, "report.json")
    try:
        done = subprocess.run([SLIM, "-q", "build", spec["tag"], "--report", report, *spec["args"]], cwd=tmp,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"slim build {spec['tag']}: failed ({done.returncode}): {done.stderr.strip()}")
    finally:
        subprocess.run(["docker", "rmi", "-f", out], capture_output=True)
    with open(report) as fh:
        doc = json.load(fh)
    doc["hardening"]["run_profile"] = {"…": "see hardening.md"}  # shown there in full
    example = abridged(doc, keyed_by_data=KEYED_BY_DATA, whole=frozenset({"by_category", "seconds", "counts"}))
    intro = (f"An example (abridged), from `slim build {spec['tag']} --report report.json {' '.join(spec['args'])}` "
             "(`samples/make_readme_examples.py` writes it):")
    return f"{paragraph(intro)}\n\n{json_block(example)}"


def inspect_example(tmp: str) -> str:
    spec = spec_of(REPORT_SAMPLE)
    doc = slim_json("inspect", spec["tag"], "--json", cwd=tmp)
    example = abridged(doc, keyed_by_data=KEYED_BY_DATA, whole=frozenset({"config"}))
    intro = f"`slim inspect {spec['tag']} --json` (`samples/make_readme_examples.py` writes it):"
    return f"{paragraph(intro)}\n\n{json_block(example)}"


def trace_example(tmp: str) -> str:
    spec = spec_of(TRACE_SAMPLE)
    doc = slim_json("trace", spec["tag"], *spec["args"], "--json", cwd=tmp)
    example = abridged(doc, keyed_by_data=KEYED_BY_DATA, whole=frozenset({"seconds", "uids", "gids"}))
    intro = (f"`slim trace {spec['tag']} {' '.join(spec['args'])} --json` prints (abridged; "
             "`samples/make_readme_examples.py` writes it):")
    return f"{paragraph(intro)}\n\n{json_block(example)}"


EXAMPLES = {"report": report_example, "inspect": inspect_example, "trace": trace_example}
PAGES = {"report": "report.md", "inspect": "commands.md", "trace": "commands.md"}  # where each example lives


def main() -> None:
    names = sys.argv[1:] or list(EXAMPLES)
    unknown = set(names) - set(EXAMPLES)
    if unknown:
        raise SystemExit(f"unknown example(s) {sorted(unknown)}: choose from {list(EXAMPLES)}")
    with tempfile.TemporaryDirectory(prefix="readme-examples-") as tmp:
        os.environ["SLIM_CACHE_DIR"] = os.path.join(tmp, "cache")  # a cold import scan, as on a first build
        for name in names:
            print(f"{name}...", file=sys.stderr)
            replace_section(f"example-{name}", EXAMPLES[name](tmp), readme=page(PAGES[name]))


if __name__ == "__main__":
    main()
