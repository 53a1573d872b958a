"""The checks a CI stage fails on, evaluated on a finished build report: each passes or fails with a one-line
reason and its own exit code. Pure: the command line decides what to do with the verdicts (write them into
JUnit and the summary, refuse to push, exit)."""

from __future__ import annotations

from dataclasses import dataclass

from slim.errors import GateFailed, GateNotEvaluated, HardeningFailed, VerificationFailed
from slim.sizes import human


@dataclass(frozen=True)
class Gates:
    """The gates asked for on the command line; a None or empty field is a gate not asked for."""

    max_size: int | None = None  # bytes, of the slim image as the engine reports it
    min_reduction: float | None = None  # percent of the original's size
    fail_on: tuple[str, ...] = ()  # "hardening"


@dataclass(frozen=True)
class Verdict:
    """One gate's result with its one-line reason and the exit code the command ends with when it fails."""

    name: str
    passed: bool | None  # None only for a verification that was not asked for (--no-verify); a gate never
    reason: str
    exit_code: int


EXIT_MAX_SIZE = 11
EXIT_MIN_REDUCTION = 12


def evaluate(doc: dict, gates: Gates, hardened_verified: bool | None) -> list[Verdict]:
    """Every gate asked for, in the order their failures are reported; verification always comes first.
    A gate that cannot be evaluated fails (exit 16) with the reason: a CI stage must not pass on a check
    it did not make."""
    v = doc["verification"]
    out = [Verdict("verification", v["passed"] if v["ran"] else None,
                   "the slim image behaves like the original" if v["passed"] else
                   ("; ".join(v["differences"])[:500] if v["ran"] else "not run (--no-verify)"),
                   VerificationFailed.exit_code)]
    size, original = _sizes(doc)
    if gates.max_size is not None:
        out.append(_not_evaluated("max-size", "the slim image's size could not be measured") if size is None else
                   Verdict("max-size", size <= gates.max_size,
                           f"slim image is {human(size)}, limit {human(gates.max_size)}", EXIT_MAX_SIZE))
    if gates.min_reduction is not None:
        if not original or size is None:
            out.append(_not_evaluated("min-reduction", "the original's or the slim image's size could not be "
                                                       "measured"))
        else:
            reduction = 100.0 * (1 - size / original)
            out.append(Verdict("min-reduction", reduction >= gates.min_reduction,
                               f"size reduced by {reduction:.1f}%, at least {gates.min_reduction:g}% required",
                               EXIT_MIN_REDUCTION))
    if "hardening" in gates.fail_on:
        if hardened_verified is None:
            out.append(_not_evaluated("hardening", "the slim image was not run under its run profile"
                                      + (" (verification did not pass)" if v["ran"] and not v["passed"] else "")))
        else:
            out.append(Verdict("hardening", hardened_verified,
                               "the slim image passes its probes under its least-privilege run profile"
                               if hardened_verified else
                               "the slim image does not behave the same under its least-privilege run profile",
                               HardeningFailed.exit_code))
    return out


def _not_evaluated(name: str, why: str) -> Verdict:
    return Verdict(name, False, f"could not be evaluated: {why}", GateNotEvaluated.exit_code)


def first_failure(verdicts: list[Verdict]) -> Verdict | None:
    """The verdict the command fails on: the first failed one, in the order they were evaluated."""
    return next((v for v in verdicts if v.passed is False), None)


def raise_for(verdict: Verdict) -> None:
    """Raise the error of slim's own that carries the verdict's exit code and reason, for the command line to print."""
    kinds = {VerificationFailed.exit_code: VerificationFailed, HardeningFailed.exit_code: HardeningFailed,
             GateNotEvaluated.exit_code: GateNotEvaluated}
    error = kinds.get(verdict.exit_code, GateFailed)(f"{verdict.name}: {verdict.reason}")
    error.exit_code = verdict.exit_code
    raise error


def _sizes(doc: dict) -> tuple[int | None, int | None]:
    """The slim and original sizes as `docker images` shows them; layer bytes when the engine has no figure
    for one of them (both figures of a pair come from the same measure, so the reduction compares like with
    like); None where neither was measured."""
    s = doc["size"]
    if s.get("slim_docker_bytes") is not None and s.get("original_docker_bytes"):
        return s["slim_docker_bytes"], s["original_docker_bytes"]
    return s.get("slim_layer_bytes"), s.get("original_layer_bytes")
