"""The documented JSON shapes of slim's results (docs/schemas/), beside nothing that renders for a terminal."""

from __future__ import annotations

from slim.closure.walk import Closure
from slim.model import ACCESS_KINDS, ImageInfo, ProbeResult, Trace, warning_texts

JSON_WARNINGS = 200  # a hostile image can make thousands; the output says how many more there were


def info_json(info: ImageInfo) -> dict:
    """The documented `slim inspect --json` shape (docs/schemas/inspect.schema.json)."""
    return {
        "reference": info.reference,
        "image_id": info.image_id,
        "size_bytes": info.size_bytes,
        "content_bytes": info.content_bytes,
        "file_count": info.file_count,
        "dir_count": info.dir_count,
        "layers": [
            {"digest": layer.digest, "size_bytes": layer.size_bytes, "entries": layer.entries,
             "whiteouts": layer.whiteouts, "created_by": layer.created_by}
            for layer in info.layers
        ],
        "os": info.os,
        "packages": {"database": info.package_db, "count": info.packages},
        "config": {k: info.config.get(k) for k in ("Entrypoint", "Cmd", "User", "WorkingDir", "Env", "ExposedPorts")},
        "warnings": warning_texts(info.warnings, JSON_WARNINGS),
    }


def closure_json(closure: Closure) -> dict:
    """The documented `slim deps --json` shape (docs/commands.md)."""
    return {
        "paths": [
            {"path": path, "reasons": [{"kind": r.kind, "of": r.of} for r in sorted(closure.keep[path])]}
            for path in closure.paths()
        ],
        "missing_libraries": [{"name": n, "needed_by": by} for n, by in closure.missing_libraries],
        "missing_paths": [{"path": p, "kind": r.kind, "of": r.of} for p, r in closure.missing_paths],
        "warnings": warning_texts(closure.warnings, JSON_WARNINGS),
    }


def files_by_kind(trace: Trace) -> dict[str, list[str]]:
    """Successful accesses: kind -> sorted unique paths."""
    out: dict[str, set[str]] = {k: set() for k in ACCESS_KINDS}
    for a in trace.accesses:
        if a.ok:
            out[a.kind].add(a.path)
    return {k: sorted(v) for k, v in out.items() if v}


def trace_json(image: str, trace: Trace) -> dict:
    """The documented `slim trace --json` shape (docs/schemas/trace.schema.json)."""
    return {
        "image": image,
        "exit_code": trace.exit_code,
        "files": files_by_kind(trace),
        "failed_lookups": sorted({a.path for a in trace.accesses if not a.ok}),
        "accesses": [{"path": a.path, "kind": a.kind, "ok": a.ok, "resolved": a.resolved, "count": a.count,
                      "pids": list(a.pids)} for a in trace.accesses],
        "processes": [{"pid": p.pid, "ppid": p.ppid, "argv": list(p.argv), "exe": p.exe} for p in trace.processes],
        "syscalls": dict(trace.syscalls),
        "uids": list(trace.uids),
        "gids": list(trace.gids),
        "bound_ports": list(trace.bound_ports),
        "probes": [probe_json(p) for p in trace.probes],
        "stdout": trace.stdout,
        "stderr": trace.stderr,
        "seconds": dict(trace.seconds),
        "warnings": warning_texts(trace.warnings, JSON_WARNINGS),
    }


def probe_json(p: ProbeResult) -> dict:
    """One probe's result as every report writes it (bodies by digest and size, never their contents)."""
    return {"kind": p.kind, "target": p.target, "ok": p.ok, "status": p.status, "body_sha256": p.body_sha256,
            "body_bytes": p.body_bytes, "detail": p.detail, "seconds": round(p.seconds, 3)}


def probe_of_json(doc: dict) -> ProbeResult:
    """A probe's result back from what probe_json wrote, for outputs made from a report document."""
    return ProbeResult(doc["kind"], doc["target"], doc["ok"], doc["status"], doc.get("body_sha256", ""),
                       doc.get("body_bytes", 0), doc.get("detail", ""), doc.get("seconds", 0.0))


def answer_json(doc: dict | None) -> str:
    """ProbeResult.answer of a report's probe; "not probed" where the report has none (the other image's)."""
    return probe_of_json(doc).answer() if doc else "not probed"
