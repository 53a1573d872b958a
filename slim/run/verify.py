"""Compare a run of the minimized image with the traced run of the original. Pure: two results in, differences out.

Batch jobs (the run ended by itself): exit code and stdout must be identical. Servers: every probe must get
the same answer (HTTP status, and the same body for static responses; exit code and stdout of --exec and
--probe-cmd, unless the command is marked --varying-probe).
"""

from __future__ import annotations

from slim.errors import OriginalFailsProbes
from slim.model import ProbeResult, RunOutcome


def differences(original: RunOutcome, slim: RunOutcome) -> list[str]:
    """How the slim run differs from the original one; [] when it behaves the same."""
    out: list[str] = []
    if original.mode == "exit":  # a batch job: it ended by itself, so how it ended must match
        if original.exit_code != slim.exit_code:
            out.append(f"exit code: original {original.exit_code}, slim {slim.exit_code}")
        if original.stdout != slim.stdout:
            out.append(f"stdout differs: original {_excerpt(original.stdout)}, slim {_excerpt(slim.stdout)}")
    before = {p.key: p for p in original.probes}
    after = {p.key: p for p in slim.probes}
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a is None or b is None:
            out.append(f"{key}: {'only the slim image' if a is None else 'only the original'} was probed")
            continue
        if (a.ok, a.status) != (b.ok, b.status):
            out.append(f"{key}: original {_answer(a)}, slim {_answer(b)}")
        elif a.kind == "http" and a.static and a.body_sha256 != b.body_sha256:
            out.append(f"{key}: static body differs ({a.body_bytes} bytes before, {b.body_bytes} after)")
        elif a.kind in ("exec", "host") and a.ok and not a.varies and a.body_sha256 != b.body_sha256:
            out.append(f"{key}: output differs: original {_excerpt(a.detail)}, slim {_excerpt(b.detail)} "
                       "(--varying-probe for a command whose output changes from run to run)")
    return out


def failing(outcome: RunOutcome) -> list[str]:
    """The probes the run failed (see ProbeResult.failed), each with its answer and output."""
    return [f"{p.key}: {_answer(p)}" + (f", output {_excerpt(p.detail)}" if p.ok and p.detail else "")
            for p in outcome.probes if p.failed()]


def _answer(p: ProbeResult) -> str:
    if not p.ok:
        return f"failed ({p.detail})"
    return f"status {p.status}" if p.kind == "http" else f"exit code {p.status}"


def _excerpt(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 80 else text[:77] + "...")


def require_passing(original: RunOutcome) -> None:
    """Comparing with an original that fails its own probes proves nothing (and a profile derived from a
    server that never answered lacks what answering needs): one error, raised before anything is written."""
    failed = failing(original)
    if failed:
        raise OriginalFailsProbes("the original image does not pass its own probes: " + "; ".join(failed)[:1500]
                                  + " (fix the probe, or --allow-failing-probes when that answer is expected)")
