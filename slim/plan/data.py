"""Keep the data files that kept binaries name and open on demand (slim.closure.data_paths), within each
rule's cap: what a rule would add above its cap is left out with a `closure.data-cap` warning."""

from __future__ import annotations

from slim.closure.data_paths import RULES, data_named
from slim.model import SlimWarning
from slim.results import DataNamedBy

_CAPS = {rule.name: rule.cap for rule in RULES}


def keep_named_data(planner) -> None:
    """Seed what the kept ELF files name; record the bytes each rule added in `planner.out.data_named`."""
    kept = set(planner.builder.closure.keep) | set(planner.out.reasons)
    found = data_named(planner.rootfs, kept)
    for rule, paths in sorted(found.by_rule.items()):
        added = planner.rootfs.bytes_of(paths - kept)
        if added > _CAPS[rule]:
            binaries = sorted({b for p in paths for r, b in found.paths[p] if r == rule})
            planner.out.warnings.append(SlimWarning(
                "closure.data-cap", f"{rule} data named by {', '.join(binaries)}: {added} bytes, over the rule's "
                f"cap of {_CAPS[rule]}: not kept; keep what the app reads with --include-path", rule))
            continue
        planner.out.data_named[rule] = added
        for path in sorted(paths):
            for rule_name, binary in found.paths[path]:
                if rule_name == rule:
                    planner.seed(path, DataNamedBy(rule, binary), runs=False)
                    break  # one binary is enough to say why; the report stays short
