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
    if original.stopped != slim.stopped:  # one was still running when stopped, the other had ended: a server
        # that cannot start proves nothing by answering no probe, so this is compared whatever the mode
        out.append(f"the original {_ending(original)}, the slim image {_ending(slim)}")
    elif original.mode == "exit" or not original.stopped:  # both ended by themselves: how they ended must match
        if original.exit_code != slim.exit_code:
            out.append(f"exit code: original {original.exit_code}, slim {slim.exit_code}")
        if original.stdout != slim.stdout:
            out.append(f"stdout differs: {_first_difference(original.stdout, slim.stdout)}")
    before = {p.key: p for p in original.probes}
    after = {p.key: p for p in slim.probes}
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a is None or b is None:
            out.append(f"{key}: {'only the slim image' if a is None else 'only the original'} was probed")
            continue
        differs = probe_difference(a, b)
        if differs:
            out.append(f"{key}: {differs}")
    return out


def probe_difference(a: ProbeResult, b: ProbeResult) -> str | None:
    """How the slim image's answer `b` to one probe differs from the original's `a`; None when it is the same."""
    if (a.ok, a.status) != (b.ok, b.status):
        return f"original {a.answer()}, slim {b.answer()}"
    if a.kind == "http" and a.static and a.body_sha256 != b.body_sha256:
        return f"static body differs ({a.body_bytes} bytes before, {b.body_bytes} after)"
    if a.kind in ("exec", "host") and a.ok and not a.varies and a.body_sha256 != b.body_sha256:
        return (f"output differs: original {_excerpt(a.detail)}, slim {_excerpt(b.detail)} "
                "(--varying-probe for a command whose output changes from run to run)")
    return None


def failing(outcome: RunOutcome) -> list[str]:
    """What the run failed: the probes (see ProbeResult.failed), each with its answer and output; a batch job
    that exited non-zero or had to be stopped; an app that exited non-zero before it was stopped."""
    out = []
    if outcome.mode == "exit" and outcome.stopped:
        out.append("the run: did not exit by itself within --exit-timeout")
    elif not outcome.stopped and outcome.exit_code not in (0, None):
        out.append(f"the run: exit code {outcome.exit_code}" + (
            f", output {_excerpt(outcome.stdout)}" if outcome.stdout.strip() else ""))
    return out + [f"{p.key}: {p.answer()}" + (f", output {_excerpt(p.detail)}" if p.ok and p.detail else "")
                  for p in outcome.probes if p.failed()]


def _ending(outcome: RunOutcome) -> str:
    return "was still running when it was stopped" if outcome.stopped else \
        f"had exited by itself (exit code {outcome.exit_code})"


def _first_difference(a: str, b: str) -> str:
    """Where two outputs part, with a little of each from there: the start of both may well be the same."""
    at = next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, at - 20)
    return f"from character {at}: original {_excerpt(a[start:])}, slim {_excerpt(b[start:])}"


def _excerpt(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 80 else text[:77] + "...")


def require_passing(original: RunOutcome) -> None:
    """Comparing with an original that fails its own probes proves nothing (and a profile derived from a
    server that never answered lacks what answering needs): one error, raised before anything is written."""
    failed = failing(original)
    if failed:
        raise OriginalFailsProbes("the original image does not pass its own probes: " + "; ".join(failed)[:1500]
                                  + " (fix the probe or the command, or --allow-failing-probes when that answer is expected)")
