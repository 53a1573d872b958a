"""The build report: before/after sizes, files and packages, what kept each file, what was removed, the
verification, time per phase. `BuildReport.to_json()` is the documented `slim.build/1` shape."""

from __future__ import annotations

from dataclasses import dataclass, field

from slim.harden.profile import RunProfile
from slim.harden.render import RunLine, run_profile_json
from slim.model import ProbeResult, RunConfig, SlimWarning, Trace, warning_texts
from slim.checks import config_findings
from slim.checks.image_lint import lint_image
from slim.packages.inventory import Inventory, read_inventory
from slim.image.reference import tag_of
from slim.report import lint
from slim.report.facts import RemovedTools, category_usage, removed_tools
from slim.report.shapes import JSON_WARNINGS, probe_json
from slim.results import CLOSURE, TRACED, KeepPlan, Rebased, Rewrites
from slim.run.hardened import HardenedRun
from slim.run.verify import probe_difference

SCHEMA = "slim.build/1"


@dataclass(frozen=True)
class Measured:
    """One image's figures: the engine's own size (None when not in the engine), its layers, its files."""

    docker_bytes: int | None
    layer_bytes: int
    content_bytes: int
    files: int


@dataclass(frozen=True)
class Verification:
    """The verification run's verdict: whether it ran and passed, what differed, and the probes as the slim image
    answered them."""

    ran: bool
    passed: bool | None = None
    differences: tuple[str, ...] = ()
    exit_code: int | None = None
    probes: tuple[ProbeResult, ...] = ()


@dataclass(frozen=True)
class OutputFacts:
    """Where the slim image went, and after a failed verification what of it was removed, kept or left behind."""

    kind: str
    path: str
    tags: tuple[str, ...]
    layer_digest: str
    removed: tuple[str, ...] = ()  # failed verification: what of the output was removed ("tag T", "file F")
    kept_failed: tuple[str, ...] = ()  # failed verification with --keep-failed: what was kept, and where
    not_removed: tuple[str, ...] = ()  # failed verification: what could not be removed

    def to_json(self) -> dict:
        """The `output` object of slim.build/1."""
        return {"kind": self.kind, "path": self.path, "tags": list(self.tags), "layer_digest": self.layer_digest,
                "removed": list(self.removed), "kept_failed": list(self.kept_failed),
                "not_removed": list(self.not_removed)}

@dataclass(frozen=True)
class HardenedProfile:
    """The run profile, where its seccomp JSON was written, the container it was verified in (as a user starts
    it: `line`), and the proof."""

    profile: RunProfile
    seccomp_file: str
    line: RunLine
    proof: HardenedRun | None  # None: not run (no verification to compare with)

    @property
    def verified(self) -> bool | None:
        """Whether the slim image behaved the same under the profile; None when that was not run."""
        return None if self.proof is None else self.proof.passed

    def to_json(self) -> dict:
        """The `hardening.run_profile` object of slim.build/1, with the diagnosis when the proof failed."""
        proof = self.proof
        return run_profile_json(self.profile, self.seccomp_file, self.line, self.verified,
                                list(proof.diagnosis) if proof else [], list(proof.differences) if proof else [])


def _compared(original: tuple[ProbeResult, ...], slim: tuple[ProbeResult, ...]) -> list[dict]:
    """Each verification probe as the slim image answered it, with what the original answered beside it, the
    probe's key (what identifies it across runs) and whether the two answers are the same."""
    before = {p.key: p for p in original}
    return [{**probe_json(p), "original": probe_json(before[p.key]) if p.key in before else None, "key": p.key,
             "same": p.key in before and probe_difference(before[p.key], p) is None} for p in slim]


_RECORDED_PHASES = ("trace", "read", "plan", "assemble", "write", "verify", "total")


@dataclass(frozen=True)
class BuildFacts:
    """What the build did, as the pipeline hands it over; the report derives the rest."""

    image: str
    image_id: str
    output: OutputFacts
    before: Measured
    after: Measured
    keep: KeepPlan
    rewrites: Rewrites
    trace: Trace
    verification: Verification
    lang_level: str
    package_kind: str | None
    seconds: dict[str, float]
    warnings: list[SlimWarning] = field(default_factory=list)
    run_profile: HardenedProfile | None = None
    slim_config: RunConfig | None = None  # how the slim image runs, when that differs from the original
    rebased: Rebased | None = None  # --run-as: the user the slim image was given, and what it now owns
    history: list = field(default_factory=list)  # the original image's history entries (lint reads them)
    engine: dict = field(default_factory=dict)  # which engine built and verified it (Engine.facts())
    tag: str | None = None  # the tag the original goes by (lint: "latest")


@dataclass(frozen=True)
class BuildReport:
    """Everything the build report states: the pipeline's facts with what the report derives from them (usage by
    category, removed tools, lint, the slim image's inventory). One value behind the JSON, the terminal table and the
    CI outputs, so they never disagree."""

    facts: BuildFacts
    usage: dict[str, dict[str, int]]  # category -> files, bytes
    removed: RemovedTools
    hardening: dict
    slim_inventory: Inventory  # the slim image's packages of every kind, as its SBOM lists them
    lint: dict  # "original" / "slim" -> slim lint's summary of that image
    vulnerabilities: dict | None = None  # --vulns/--scan: the findings removed and remaining (slim.vulns.match)

    @classmethod
    def of(cls, facts: BuildFacts, original_rootfs, new_rootfs) -> BuildReport:
        """The report of `facts`, reading the original and new filesystems for what only they show (lint of both
        images, the slim image's inventory, the tools left out)."""
        slim_files = new_rootfs.only(facts.rewrites.paths(facts.keep))  # the new filesystem, only what was kept
        slim_config = facts.slim_config or facts.trace.config
        slim_tag = tag_of(facts.output.tags[0]) if facts.output.tags else None
        linted = {"original": lint.summary(lint_image(original_rootfs, facts.trace.config, facts.history, facts.tag)),
                  "slim": lint.summary(lint_image(slim_files, slim_config, [], slim_tag))}
        return cls(facts, category_usage(new_rootfs, facts.keep), removed_tools(original_rootfs, facts.keep),
                   config_findings.findings(slim_config), read_inventory(slim_files), linted)

    @property
    def passed(self) -> bool | None:
        """The verification's verdict: None when it did not run."""
        return self.facts.verification.passed

    @property
    def warnings(self) -> list[SlimWarning]:
        """The build's warnings with the hardening findings about the slim image's config, and a warning when the
        slim image failed under its run profile."""
        out = list(self.facts.warnings) + [SlimWarning("hardening", text) for text in config_findings.warnings(self.hardening)]
        proof = self.facts.run_profile.proof if self.facts.run_profile is not None else None
        if proof is not None and not proof.passed:  # what HardenedProfile.verified is False says
            out.append(SlimWarning("hardening.unverified", "the slim image does not behave the same under its "
                                   "least-privilege profile: " + "; ".join(proof.diagnosis)))
        return out

    def to_json(self) -> dict:
        """The build report as the documented `slim.build/1` JSON."""
        f, keep, rw, before, after = self.facts, self.facts.keep, self.facts.rewrites, self.facts.before, self.facts.after
        traced_closure = self.usage[TRACED]["bytes"] + self.usage[CLOSURE]["bytes"]
        return {
            "schema": SCHEMA,
            "image": f.image,
            "image_id": f.image_id,
            "output": f.output.to_json(),
            "size": {
                "original_docker_bytes": before.docker_bytes,
                "slim_docker_bytes": after.docker_bytes,
                "original_layer_bytes": before.layer_bytes,
                "slim_layer_bytes": after.layer_bytes,
                "original_content_bytes": before.content_bytes,
                "slim_content_bytes": after.content_bytes,
                "traced_and_closure_bytes": traced_closure,
                "reduction": round(1 - after.content_bytes / before.content_bytes, 4) if before.content_bytes else 0,
            },
            "files": {"original": before.files, "slim": after.files},
            "packages": {"database": f.package_kind, "original": len(rw.packages_before),
                         "slim": len(rw.packages_after), "kept": rw.packages_after,
                         "removed": sorted(set(rw.packages_before) - set(rw.packages_after))},
            "removed": {"shells": list(self.removed.shells), "package_managers": list(self.removed.package_managers),
                        "setuid_bits": rw.setuid_dropped, "excluded": keep.excluded},
            "accounts": rw.accounts_kept,
            "hardening": {**self.hardening,
                          "run_profile": f.run_profile.to_json() if f.run_profile is not None else None,
                          "run_as": {"user": f.rebased.user, "chowned": list(f.rebased.chowned)}
                          if f.rebased is not None and f.rebased.user else None},
            "keep": {
                "by_category": self.usage,
                "paths": [{"path": p, "category": keep.category(p), "reasons": [f"{r.category}: {r.text()}" for r in keep.reasons[p]]}
                          for p in sorted(keep.reasons)],
                "generated": [{"path": g.path, "why": g.why}
                              for g in sorted(rw.generated.values(), key=lambda g: g.path)],
                "content_directories": dict(sorted(keep.content.items())),  # app dirs read: bytes beyond the trace
                "data_named": dict(sorted(keep.data_named.items())),  # data binaries name: bytes each rule added
            },
            "language_completion": {"level": f.lang_level, "bytes_by_level": keep.language_cost, "python_modules":
                                    keep.python_scans, "kept_whole": keep.kept_whole, "cuts": keep.cuts},
            "trace": {"exit_code": f.trace.exit_code, "probes": [probe_json(p) for p in f.trace.probes],
                      "syscalls": [name for name, _ in f.trace.syscalls], "files_touched": len(f.trace.paths())},
            "verification": {"ran": f.verification.ran, "passed": f.verification.passed,
                             "differences": list(f.verification.differences), "exit_code": f.verification.exit_code,
                             "probes": _compared(f.trace.probes, f.verification.probes)},
            # phases added since slim.build/1 was first recorded ("harden") follow the recorded ones and "total"
            "seconds": {k: round(f.seconds[k], 3) for k in sorted(f.seconds, key=lambda k: k not in _RECORDED_PHASES)},
            "warnings": warning_texts(self.warnings, JSON_WARNINGS), "lint": self.lint, "engine": f.engine,  # new: last
            "vulnerabilities": self.vulnerabilities,  # added after "engine"
        }
