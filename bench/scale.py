"""Benchmark: how slim's cost grows with the files and the bytes of an image, on synthetic images far bigger
than the samples: 10k, 100k and 500k files (200 MB each), and 0.2, 1 and 4 GB (10k files each), every one in
three layers with whiteouts, an opaque directory, hard links, overwritten files and a dpkg database whose size
follows the file count (status, *.list and *.md5sums of every package), and a static entrypoint.

Each image is written as a docker-archive under a temporary directory (removed at the end), then slimmed in a
child process that times each phase (read: unpack the layers; flatten; plan; assemble; write a docker-archive;
lint, the image checks the report holds) and reports its peak RSS. With --end-to-end, `slim build` of the
same archive adds the engine phases (stage: loading it into the engine, trace, unstage: removing it from the
engine again, verify) from its report, and what its wall time holds beyond the named phases. With
--docker-save, the 1 GB image is loaded into the engine and `docker save > /dev/null` timed against slim's
read + flatten of it.

Run: .venv/bin/python bench/scale.py [--sizes 10k-0.2g,10k-1g,...] [--end-to-end] [--docker-save] [--runs N]
     [--markdown docs/scale.md] [--from-json ROWS]   (never part of the timed tests: it writes several GB)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import run_measured, shell_seconds

SLIM = os.path.join(os.path.dirname(sys.executable), "slim")
ENTRYPOINT = "/usr/bin/tini-static"  # a static program: the image needs nothing else to run
MTIME = 1700000000
# name -> (files, bytes): the files grow at 0.2 GB, the bytes at 10k files (10k-0.2g belongs to both series)
SIZES = {"10k-0.2g": (10_000, 200 << 20), "100k-0.2g": (100_000, 200 << 20), "500k-0.2g": (500_000, 200 << 20),
         "10k-1g": (10_000, 1 << 30), "10k-4g": (10_000, 4 << 30)}
_BLOCK = random.Random(7).randbytes(1 << 20)  # file contents: slices of one incompressible block


class _Layer:
    """One layer tar written to disk as it is made, with its diff_id (sha256 of the tar) at the end."""

    def __init__(self, path: str):
        self.path = path
        self._fh = open(path, "wb")  # noqa: SIM115 -- closed by close(), once the tar is written
        self._hash = hashlib.sha256()
        self.tar = tarfile.open(fileobj=self, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 -- as _fh
        self.dirs: set[str] = set()

    def write(self, data) -> int:
        self._hash.update(data)
        return self._fh.write(data)

    def tell(self) -> int:
        return self._fh.tell()

    def _dir(self, path: str) -> None:
        parent = os.path.dirname(path)
        if not parent or parent in self.dirs:
            return
        self._dir(parent)
        self.dirs.add(parent)
        self.tar.addfile(_info(parent, tarfile.DIRTYPE, 0o755))

    def file(self, path: str, size: int, mode: int = 0o644, data: bytes | None = None) -> None:
        self._dir(path)
        if data is None and size <= len(_BLOCK):
            start = zlib.crc32(path.encode()) % (len(_BLOCK) - size + 1)  # files differ from each other
            data = _BLOCK[start:start + size]
        info = _info(path, tarfile.REGTYPE, mode)
        info.size = size if data is None else len(data)
        self.tar.addfile(info, io.BytesIO(data) if data is not None else _Repeat(size))

    def link(self, path: str, kind, target: str) -> None:
        self._dir(path)
        info = _info(path, kind, 0o644)
        info.linkname = target
        self.tar.addfile(info)

    def close(self) -> str:
        self.tar.close()
        self._fh.close()
        return "sha256:" + self._hash.hexdigest()


class _Repeat(io.RawIOBase):
    """`size` bytes of the block, repeated: big files without holding them in memory."""

    def __init__(self, size: int):
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        out = (_BLOCK * (n // len(_BLOCK) + 1))[:n] if n > len(_BLOCK) else _BLOCK[:n]
        self.left -= len(out)
        return out


def _info(path: str, kind, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.type, info.mode, info.mtime = kind, mode, MTIME
    return info


def _plan_files(files: int, total: int, rng: random.Random) -> list[tuple[str, int]]:
    """(path, size) of the generated files: 100 to a directory, sizes spread around the mean (a few big ones)."""
    mean = total / files
    sizes = [max(0, int(rng.expovariate(1 / mean))) for _ in range(files)]
    scale = total / max(sum(sizes), 1)
    return [(f"usr/share/bench/d{n // 10_000:02d}/d{n // 100 % 100:02d}/f{n}.dat", int(s * scale))
            for n, s in enumerate(sizes)]


def _dpkg(layer: _Layer, owned: list[str]) -> int:
    """A dpkg database for `owned`: one package per 250 files (80 at least), status stanzas of Debian's size,
    a .list and a .md5sums per package. Returns the packages made."""
    packages = max(80, len(owned) // 250)
    status = io.StringIO()
    for p in range(packages):
        name = f"bench-pkg{p}"
        mine = owned[p::packages]
        status.write(f"Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: libs\n"
                     f"Installed-Size: {len(mine) * 4}\nMaintainer: Bench <bench@example.invalid>\n"
                     f"Architecture: amd64\nVersion: 1.{p}-1\nDepends: libc6 (>= 2.36)\n"
                     f"Description: synthetic package {p}\n a package of the scale benchmark, with a description\n"
                     f" as long as the usual ones, over two lines.\n\n")
        dirs = sorted({os.path.dirname(f) for f in mine})
        listing = "".join(f"/{d}\n" for d in dirs) + "".join(f"/{f}\n" for f in mine)
        layer.file(f"var/lib/dpkg/info/{name}.list", 0, data=listing.encode())
        sums = "".join(f"{hashlib.md5(f.encode()).hexdigest()}  {f}\n" for f in mine)
        layer.file(f"var/lib/dpkg/info/{name}.md5sums", 0, data=sums.encode())
    layer.file("var/lib/dpkg/status", 0, data=status.getvalue().encode())
    return packages


def make_image(where: str, files: int, total: int) -> dict:
    """Write the synthetic image as `where`/image.tar (docker-archive); what it holds."""
    rng = random.Random(files * 31 + total)
    plan = _plan_files(files, total, rng)
    base_files, app_files = plan[:int(files * 0.9)], plan[int(files * 0.9):]
    layers = []
    base = _Layer(f"{where}/l0.tar")
    base.file("etc/os-release", 0, data=b'PRETTY_NAME="bench"\nID=debian\nVERSION_ID="12"\n')
    base.file("etc/passwd", 0, data=b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n")
    base.file("etc/group", 0, data=b"root:x:0:\nnogroup:x:65534:\n")
    links = 0
    for n, (path, size) in enumerate(base_files):
        if n % 100 == 99:  # every hundredth file is a hard link to the one before it
            base.link(path, tarfile.LNKTYPE, base_files[n - 1][0])
            links += 1
        else:
            base.file(path, size)
    packages = _dpkg(base, [p for p, _ in base_files])
    layers.append(base.close())
    upper = _Layer(f"{where}/l1.tar")  # deletes 2%, replaces 2%, hides one directory's lower contents
    whiteouts = 0
    for n, (path, size) in enumerate(base_files):
        if n % 50 == 1:
            upper.file(f"{os.path.dirname(path)}/.wh.{os.path.basename(path)}", 0, data=b"")
            whiteouts += 1
        elif n % 50 == 2:
            upper.file(path, size // 2 + 1)
    upper.file("usr/share/bench/d00/d01/.wh..wh..opq", 0, data=b"")
    upper.file("usr/share/bench/d00/d01/after-opaque.dat", 100)
    layers.append(upper.close())
    app = _Layer(f"{where}/l2.tar")
    with open(ENTRYPOINT, "rb") as fh:
        app.file("app/run", 0, 0o755, data=fh.read())
    for path, size in app_files:
        app.file(path.replace("usr/share/bench", "app/data"), size)
    app.link("app/current", tarfile.SYMTYPE, "run")
    layers.append(app.close())
    _archive(where, layers)
    return {"files": files, "bytes": total, "packages": packages, "hard_links": links, "whiteouts": whiteouts,
            "archive_bytes": os.path.getsize(f"{where}/image.tar")}


def _archive(where: str, diff_ids: list[str]) -> None:
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                         "config": {"Entrypoint": ["/app/run", "--version"], "Env": ["PATH=/usr/bin:/bin"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created_by": f"layer {n}"} for n in range(len(diff_ids))]}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["slim-bench/scale:1"],
                            "Layers": [f"l{n}/layer.tar" for n in range(len(diff_ids))]}]).encode()
    with tarfile.open(f"{where}/image.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((config_name, config), ("manifest.json", manifest)):
            info = _info(name, tarfile.REGTYPE, 0o644)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for n in range(len(diff_ids)):
            tar.add(f"{where}/l{n}.tar", f"l{n}/layer.tar")
            os.unlink(f"{where}/l{n}.tar")


def measure(archive_path: str, out: str, work: str) -> dict:
    """In this process: each phase's wall seconds and the peak RSS after it (MB), for slimming the archive with
    the trace a run of its static entrypoint gives."""
    from slim.checks.image_lint import lint_image
    from slim.checks.users import read_accounts
    from slim.image.assemble import assemble
    from slim.image.overlay import overlay
    from slim.image.reference import parse_reference
    from slim.image.sink import DOCKER_ARCHIVE, Output, write_image
    from slim.image.source import read_image
    from slim.model import EXEC, FileAccess, Trace
    from slim.packages.catalog import read_catalog
    from slim.plan.keep import PlanOptions, plan_keep
    from slim.plan.rewrite import rewrite
    from slim.workspace import Workspace

    seconds, rss = {}, {}

    def phase(name, fn):
        start = time.monotonic()
        value = fn()
        seconds[name] = round(time.monotonic() - start, 2)
        rss[name] = _peak_rss_mb()
        return value

    with Workspace(work) as ws:
        image = phase("read", lambda: read_image(parse_reference(f"docker-archive:{archive_path}"), ws, None))
        rootfs = phase("flatten", image.rootfs)
        config = image.run_config
        trace = Trace(accesses=(FileAccess("/app/run", EXEC, True, "/app/run"),), exit_code=0, config=config,
                      argv=("/app/run", "--version"))

        def plan():
            catalog, accounts, options = read_catalog(rootfs), read_accounts(rootfs), PlanOptions()
            keep = plan_keep(rootfs, config, trace, accounts, options, catalog.owned())
            rewrites = rewrite(rootfs, config, trace, accounts, catalog, keep, options)
            newroot = overlay(rootfs, rewrites.generated, rewrites.modes, ws.path("generated.pack"), rewrites.owners)
            return newroot, rewrites.paths(keep), len(catalog.packages)

        newroot, paths, packages = phase("plan", plan)
        assembled = phase("assemble", lambda: assemble(newroot, paths, image.config, archive_path, image.image_id, ws))
        phase("write", lambda: write_image(assembled, Output(DOCKER_ARCHIVE, out), ["slim-bench/scale:slim"], ws, None))
        # not a phase of its own in slim build's report: the lint of the original image that the report holds
        phase("lint", lambda: lint_image(rootfs, config, [], None))
        entries = sum(1 for _ in rootfs.walk())
    return {"seconds": seconds, "peak_rss_mb": rss, "entries": entries, "kept_paths": len(paths),
            "packages_read": packages}


def _peak_rss_mb() -> int:
    """This process's peak RSS since it started its program: VmHWM, not getrusage, whose ru_maxrss also holds
    the peak of the process that spawned it (Linux carries it across vfork and exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def end_to_end(archive_path: str, where: str) -> dict:
    """`slim build` of the archive with its probes' trace and the verification run: the report's phase times,
    and "rest", the part of its wall time that no phase names."""
    report = f"{where}/report.json"
    _, rss = run_measured([SLIM, "-q", "--work-dir", f"{where}/e2e", "build", f"docker-archive:{archive_path}",
                           "-o", f"docker-archive:{where}/e2e-out.tar", "--no-harden", "--report", report])
    with open(report) as fh:
        data = json.load(fh)
    seconds = data["seconds"]
    return {**{k: round(v, 2) for k, v in seconds.items()}, "rest": round(rest_seconds(seconds), 2),
            "peak_rss_mb": rss >> 20}


def rest_seconds(seconds: dict[str, float]) -> float:
    """What `slim build`'s wall time holds beyond its phases. Some run at the same time: the read with the stage
    and the trace (it starts before both), the unstage with the plan and the assembly (the write waits for it)."""
    get = seconds.get
    named = (get("stage", 0) + max(get("trace", 0), get("read", 0) - get("stage", 0))
             + max(get("plan", 0) + get("assemble", 0), get("unstage", 0)) + get("write", 0) + get("verify", 0)
             + get("harden", 0))
    return max(get("total", 0) - named, 0.0)


def docker_save_seconds(archive_path: str, runs: int = 3) -> float:
    """Median wall time of `docker save > /dev/null` of the archive's image loaded into the engine."""
    subprocess.run(["docker", "load", "-q", "-i", archive_path], check=True, stdout=subprocess.DEVNULL)
    try:
        times = sorted(shell_seconds("docker save slim-bench/scale:1 > /dev/null") for _ in range(runs))
        return times[len(times) // 2]
    finally:
        subprocess.run(["docker", "rmi", "-f", "slim-bench/scale:1"], check=True, stdout=subprocess.DEVNULL)


PHASES = ("read", "flatten", "plan", "assemble", "write", "lint")
E2E = ("stage", "trace", "read", "plan", "assemble", "unstage", "write", "verify", "rest", "total")


def markdown(rows: list[dict], command: str) -> str:
    """docs/scale.md: the table of phases and peak memory, how each grows with files and bytes, and the
    comparison with docker save, all from `rows` (what this script measured)."""
    out = ["# How slim scales with files and bytes", "",
           "Synthetic images (three layers: whiteouts, an opaque directory, hard links, overwritten files, a dpkg "
           "database of one package per 250 files with its status, `.list` and `.md5sums`, and a static "
           "entrypoint), slimmed phase by phase in a child process; the end-to-end columns are `slim build` of "
           "the same docker-archive (stage: loading it into the engine; trace and verify run the entrypoint).",
           "", f"Produced by `{command}` (figures: seconds, on a 2-core machine shared with other work: the "
           f"phases the fastest of {max(r.get('runs', 1) for r in rows)} runs, `slim build` one run; peak RSS "
           "of the process that read, "
           "flattened, planned, assembled and wrote the image, the highest of the runs). The end "
           "to end total is `slim build`'s wall time, in which phases overlap: read (and flatten) starts with "
           "stage and goes on during trace; unstage, the engine removing the staged original, runs during plan "
           "and assemble, and write waits for it. Rest: the total less the phases, overlaps counted once (the "
           "engine's answers about images, the sizes and counts for the report).", "",
           "| image | files | bytes | packages | " + " | ".join(PHASES) + " | peak RSS | end to end: "
           + " / ".join(E2E) + " | end to end: peak RSS |",
           "|---|---:|---:|---:|" + "---:|" * len(PHASES) + "---:|---|---:|"]
    for r in rows:
        e2e = r.get("end_to_end") or {}
        out.append(f"| {r['name']} | {r['files']:,} | {r['bytes'] / (1 << 30):.2f} GiB | {r['packages']} | "
                   + " | ".join(f"{r['seconds'][p]:.2f}" if p in r["seconds"] else "-" for p in PHASES)
                   + f" | {max(r['peak_rss_mb'].values())} MB | "
                   + (" / ".join(f"{e2e.get(p, 0):.1f}" for p in E2E) if e2e else "-")
                   + (f" | {e2e['peak_rss_mb']} MB |" if "peak_rss_mb" in e2e else " | - |"))
    by = {r["name"]: r for r in rows}
    out += ["", "## Growth", ""]
    # each point against the one before it in its series: linear growth shows as phase ratios near the data's
    for label, unit, series in (("files", "files", ("10k-0.2g", "100k-0.2g", "500k-0.2g")),
                                ("bytes", "bytes", ("10k-0.2g", "10k-1g", "10k-4g"))):
        for small, big in itertools.pairwise(series):
            if small in by and big in by:
                a, b = by[small], by[big]
                grow = b[unit] / a[unit]
                times = ", ".join(f"{p} {b['seconds'][p] / a['seconds'][p]:.1f}x" for p in PHASES
                                  if a["seconds"].get(p, 0) >= 0.05 and p in b["seconds"])  # shorter: noise
                out.append(f"- {big} against {small}: {grow:.0f}x the {label}; {times}; peak RSS "
                           f"{max(b['peak_rss_mb'].values()) / max(max(a['peak_rss_mb'].values()), 1):.1f}x.")
    saved = [r for r in rows if "docker_save_seconds" in r]
    if saved:
        r = saved[0]
        mine = r["seconds"]["read"] + r["seconds"]["flatten"]
        out += ["", "## Against docker save", "",
                f"- {r['name']}: read + flatten of the docker-archive {mine:.1f} s; `docker save > /dev/null` of "
                f"the same image loaded into the engine {r['docker_save_seconds']:.1f} s (median of 3): "
                f"{mine / r['docker_save_seconds']:.2f}x."]
    out += ["", "## Where slim build's time goes", "",
            "- stage and unstage are the engine's own work: `docker load` of the archive, and the removal of the "
            "image it loaded for the trace. Both grow with the files, which the engine writes and deletes one by "
            "one on its disk; slim reads the archive while the engine loads it, and plans and assembles while the "
            "engine removes it (the write then waits for the engine).",
            "- read, flatten, plan and the lint of the report are slim's own; rest is what no phase names: the "
            "engine's answers about the images, the sizes and counts for the report."]
    out += ["", "## Against the targets of issue 25", ""] + _targets(by, saved)
    return "\n".join(line if line.startswith("|") else textwrap.fill(line, 110, subsequent_indent="  " if
                                                                    line.startswith("- ") else "")
                     for line in out) + "\n"


def _targets(by: dict[str, dict], saved: list[dict]) -> list[str]:
    """One line per target: what was measured against it."""
    out = []
    if saved:
        r = saved[0]
        ratio = (r["seconds"]["read"] + r["seconds"]["flatten"]) / r["docker_save_seconds"]
        out.append(f"- read + flatten of 1 GB within 1.5x of `docker save > /dev/null`: {ratio:.2f}x "
                   f"({'met' if ratio <= 1.5 else 'not met'}).")
    for small, big, unit in (("100k-0.2g", "500k-0.2g", "files"), ("10k-1g", "10k-4g", "bytes")):
        if small in by and big in by:
            grow = by[big][unit] / by[small][unit]
            ratios = {p: by[big]["seconds"][p] / by[small]["seconds"][p] for p in PHASES
                      if by[small]["seconds"].get(p, 0) >= 0.05 and p in by[big]["seconds"]}
            worst = max(ratios, key=ratios.__getitem__)
            out.append(f"- time linear in {unit}: {big} against {small}, {grow:.0f}x the {unit}; the phase that grew "
                       f"most, {worst}, took {ratios[worst]:.1f}x the time "
                       f"({'met' if ratios[worst] <= grow * 1.25 else 'not met'}, counting up to a quarter over "
                       f"{grow:.0f}x as linear: this shared machine's noise, and the caches a bigger heap misses).")
    if "500k-0.2g" in by:
        peak = max(by["500k-0.2g"]["peak_rss_mb"].values())
        e2e = by["500k-0.2g"].get("end_to_end", {}).get("peak_rss_mb")
        whole = e2e or peak
        out.append("- peak memory under 400 MB at 500k files: " + (f"the whole `slim build` {e2e} MB; " if e2e else "")
                   + f"reading, flattening, planning, assembling and writing alone {peak} MB "
                   f"({'met' if whole < 400 else 'not met'}).")
    if "10k-4g" in by:
        e2e = by["10k-4g"].get("end_to_end")
        out.append("- a 4 GB image slims on this machine: " + (f"yes, `slim build` took {e2e['total']:.0f} s." if e2e
                                                               else "phases measured; `slim build` not run."))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--end-to-end", action="store_true", help="also time slim build (stage, trace, verify)")
    ap.add_argument("--docker-save", action="store_true", help="compare read+flatten of 10k-1g with docker save")
    ap.add_argument("--runs", type=int, default=1, help="measure the phases this many times: the fastest counts")
    ap.add_argument("--dir", default="/var/tmp", help="where the temporary images go (needs ~3x the biggest)")
    ap.add_argument("--markdown", help="write the table there (docs/scale.md)")
    ap.add_argument("--from-json", help="render rows this script printed before instead of measuring")
    ap.add_argument("--measure", nargs=3, metavar=("ARCHIVE", "OUT", "WORK"), help=argparse.SUPPRESS)
    ap.add_argument("--generate", nargs=3, metavar=("WHERE", "FILES", "BYTES"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    if args.generate:  # in a child: this process stays small, and so do the peaks of those it starts
        print(json.dumps(make_image(args.generate[0], int(args.generate[1]), int(args.generate[2]))))
        return
    if args.from_json:
        with open(args.from_json) as fh:
            rows = [json.loads(line) for line in fh]
    else:
        rows = _measure_all(args)
    if args.markdown:
        runs = max(r.get("runs", 1) for r in rows)
        command = f"python bench/scale.py --end-to-end --docker-save --runs {runs} --markdown docs/scale.md"
        with open(args.markdown, "w") as fh:
            fh.write(markdown(rows, command))


def _measure_all(args) -> list[dict]:
    rows = []
    for name in args.sizes.split(","):
        files, total = SIZES[name]
        where = tempfile.mkdtemp(prefix="slim-scale-", dir=args.dir)
        try:
            start = time.monotonic()
            made = json.loads(subprocess.run([sys.executable, __file__, "--generate", where, str(files), str(total)],
                                             check=True, capture_output=True, text=True).stdout)
            made["generate_seconds"] = round(time.monotonic() - start, 1)
            runs = [json.loads(subprocess.run([sys.executable, __file__, "--measure", f"{where}/image.tar",
                                               f"{where}/out.tar", f"{where}/work"],
                                              check=True, capture_output=True, text=True).stdout)
                    for _ in range(args.runs)]
            # the fastest of the runs (a shared machine only ever adds time), the highest peak
            row = {"name": name, **made, **runs[0], "runs": args.runs,
                   "seconds": {p: min(r["seconds"][p] for r in runs) for p in runs[0]["seconds"]},
                   "peak_rss_mb": {p: max(r["peak_rss_mb"][p] for r in runs) for p in runs[0]["peak_rss_mb"]}}
            if args.end_to_end:
                row["end_to_end"] = end_to_end(f"{where}/image.tar", where)
            if args.docker_save and name == "10k-1g":
                row["docker_save_seconds"] = round(docker_save_seconds(f"{where}/image.tar"), 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
        finally:
            shutil.rmtree(where, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main()
