"""Images side by side (`slim compare`): sizes three ways, packages by database, and what an attacker would find
inside. One ImageSummary per image; the JSON shape (slim.compare/1), a Markdown table and the rows of the
terminal table are made from the same figures, so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slim.checks.exposure import Exposure
from slim.packages.inventory import KINDS, Inventory
from slim.image.model import Image
from slim.report.inspect import counts
from slim.sizes import human

SCHEMA = "slim.compare/1"


@dataclass(frozen=True)
class ImageSummary:
    """The figures of one image that `slim compare` sets side by side, measured once so every output agrees."""

    reference: str
    docker_bytes: int | None  # what `docker images` shows; None when the image is not in the engine
    layer_bytes: int  # the uncompressed layer tars
    compressed_bytes: int  # the layers gzip-compressed: what a registry stores
    layers: int
    files: int
    content_bytes: int
    packages: dict[str, int]  # kind -> count
    package_keys: frozenset[tuple[str, str, str]]  # (kind, name, version)
    distribution: str | None
    user: str
    runs_as_root: bool
    healthcheck: bool
    exposure: Exposure
    warnings: list = field(default_factory=list)

    @property
    def package_count(self) -> int:
        """All packages of every kind, the figure the ratio and the chart use."""
        return sum(self.packages.values())


def summarize(image: Image, rootfs, inventory: Inventory, exposure: Exposure, docker_bytes: int | None,
              compressed_bytes: int) -> ImageSummary:
    """The figures of one image from what was read of it (layers, files, inventory, exposure) and the sizes measured
    elsewhere (the engine's, the compressed one)."""
    content, files, _ = counts(rootfs)
    config = image.run_config
    distro = inventory.distro
    return ImageSummary(
        reference=image.reference, docker_bytes=docker_bytes,
        layer_bytes=sum(layer.size_bytes for layer in image.layers), compressed_bytes=compressed_bytes,
        layers=len(image.layers), files=files, content_bytes=content, packages=inventory.counts(),
        package_keys=frozenset(c.key for c in inventory.components),
        distribution=(distro.pretty_name or distro.qualifier) if distro else None,
        user=config.user or "root", runs_as_root=config.runs_as_root, healthcheck=bool(config.healthcheck)
        and config.healthcheck[0] != "NONE", exposure=exposure, warnings=list(inventory.warnings))


def _ratio(value: int | None, first: int | None) -> float | None:
    return round(value / first, 4) if value is not None and first else None


def comparison_json(summaries: list[ImageSummary]) -> dict:
    """The comparison as documented JSON (slim.compare/1), with each image's ratios to the first one."""
    first = summaries[0]
    return {"schema": SCHEMA, "images": [{
        "reference": s.reference,
        "docker_bytes": s.docker_bytes,
        "layer_bytes": s.layer_bytes,
        "compressed_bytes": s.compressed_bytes,
        "layers": s.layers,
        "files": s.files,
        "content_bytes": s.content_bytes,
        "packages": {"count": s.package_count, **s.packages},
        "distribution": s.distribution,
        "user": s.user,
        "runs_as_root": s.runs_as_root,
        "healthcheck": s.healthcheck,
        "shells": list(s.exposure.shells),
        "package_managers": list(s.exposure.package_managers),
        "setuid": list(s.exposure.setuid),
        "setgid": list(s.exposure.setgid),
        "world_writable": list(s.exposure.world_writable),
        "ratio_to_first": {"docker_bytes": _ratio(s.docker_bytes, first.docker_bytes),
                           "layer_bytes": _ratio(s.layer_bytes, first.layer_bytes),
                           "compressed_bytes": _ratio(s.compressed_bytes, first.compressed_bytes),
                           "packages": _ratio(s.package_count, first.package_count)},
    } for s in summaries]}


def human_bytes(n: int | None) -> str:
    """A byte count for people, or "-" for a size that is unknown (an image that is not in the engine)."""
    return human(n) if n is not None else "-"


def rows(summaries: list[ImageSummary]) -> list[tuple[str, list[str]]]:
    """(label, one cell per image): the table the terminal and Markdown show."""
    first = summaries[0]

    def with_ratio(value: int | None, base: int | None) -> str:
        ratio = _ratio(value, base)
        return human_bytes(value) + (f" ({ratio:.2f}x)" if ratio is not None and value is not base else "")

    def listed(paths: tuple[str, ...]) -> str:
        return str(len(paths)) + (f": {', '.join(p.rsplit('/', 1)[-1] for p in paths[:4])}" if paths else "")
    table = [
        ("size (Docker)", [with_ratio(s.docker_bytes, first.docker_bytes) for s in summaries]),
        ("layers, uncompressed", [with_ratio(s.layer_bytes, first.layer_bytes) for s in summaries]),
        ("layers, gzip (registry)", [with_ratio(s.compressed_bytes, first.compressed_bytes) for s in summaries]),
        ("layers", [str(s.layers) for s in summaries]),
        ("files", [str(s.files) for s in summaries]),
        ("packages", [str(s.package_count) for s in summaries]),
    ]
    for kind, label in zip(KINDS, ("  dpkg", "  apk", "  Python", "  Node", "  Go modules",
                                   "  Ruby gems", "  Java"), strict=True):
        if any(s.packages.get(kind) for s in summaries):
            table.append((label, [str(s.packages.get(kind, 0)) for s in summaries]))
    table += [
        ("distribution", [s.distribution or "-" for s in summaries]),
        ("user", [s.user + (" (root)" if s.runs_as_root else "") for s in summaries]),
        ("shells", [listed(s.exposure.shells) for s in summaries]),
        ("package managers", [listed(s.exposure.package_managers) for s in summaries]),
        ("setuid / setgid files", [f"{len(s.exposure.setuid)} / {len(s.exposure.setgid)}" for s in summaries]),
        ("world-writable", [str(len(s.exposure.world_writable)) for s in summaries]),
        ("HEALTHCHECK", ["yes" if s.healthcheck else "no" for s in summaries]),
    ]
    return table


def markdown_table(summaries: list[ImageSummary]) -> str:
    """The comparison as a markdown table, one column per image, the same rows as the terminal shows."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")
    lines = ["| | " + " | ".join(f"`{cell(s.reference)}`" for s in summaries) + " |",
             "|---|" + "---:|" * len(summaries)]
    lines += [f"| {label.strip()} | " + " | ".join(cell(c) for c in cells) + " |" for label, cells in rows(summaries)]
    return "\n".join(lines) + "\n"


def only_in(summaries: list[ImageSummary]) -> dict[str, list[str]]:
    """reference -> "kind name version" of the packages no other compared image has (same name and version)."""
    out = {}
    for s in summaries:
        others = frozenset().union(*(o.package_keys for o in summaries if o is not s))
        out[s.reference] = [" ".join(k) for k in sorted(s.package_keys - others)]
    return out
