"""The comparison as a picture (`slim compare --chart`): sizes and package counts per image as bars, drawn with
matplotlib (an optional extra: `pip install slim[chart]`). SVG or PNG by the file's extension; the SVG is
byte-for-byte the same for the same figures (fixed hash salt, no date), so a generated README does not churn."""

from __future__ import annotations

import io
import os

from slim.errors import UsageError
from slim.files import write_file
from slim.report.compare import ImageSummary

FORMATS = (".svg", ".png")


def chart_format(path: str) -> str:
    """The chart's format from the file name (svg or png), checked before any work so a wrong name fails at once."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"--chart {path}: the file name must end in .svg or .png")
    return ext[1:]


def draw_chart(summaries: list[ImageSummary], path: str) -> None:
    """Draw the images' sizes and package counts as bars into `path`; a usage error when matplotlib is not installed."""
    kind = chart_format(path)
    try:
        import matplotlib
    except ImportError:
        raise UsageError("--chart needs matplotlib: pip install 'slim[chart]'") from None
    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot

    names = [_short(s.reference) for s in summaries]
    positions = range(len(summaries))
    pyplot.rcParams["svg.hashsalt"] = "slim"
    figure, (sizes, packages) = pyplot.subplots(1, 2, figsize=(4 + 2.2 * len(summaries), 4.2), dpi=100)
    width = 0.38
    uncompressed = [s.layer_bytes / 1e6 for s in summaries]
    compressed = [s.compressed_bytes / 1e6 for s in summaries]
    bars = sizes.bar([p - width / 2 for p in positions], uncompressed, width, label="uncompressed", color="#8fb3d9")
    sizes.bar_label(bars, fmt="%.1f", fontsize=8)
    bars = sizes.bar([p + width / 2 for p in positions], compressed, width, label="gzip (registry)", color="#2f6fb0")
    sizes.bar_label(bars, fmt="%.1f", fontsize=8)
    sizes.set_title("size (MB)")
    sizes.legend(fontsize=8)
    bars = packages.bar(list(positions), [s.package_count for s in summaries], 0.6, color="#d98f3c")
    packages.bar_label(bars, fontsize=8)
    packages.set_title("packages")
    for axes in (sizes, packages):
        axes.set_xticks(list(positions), names, rotation=15, ha="right", fontsize=8)
        axes.spines[["top", "right"]].set_visible(False)
        axes.margins(y=0.15)
    figure.tight_layout()
    drawn = io.BytesIO()
    try:
        figure.savefig(drawn, format=kind, metadata={"Date": None} if kind == "svg" else None)
    finally:
        pyplot.close(figure)
    write_file(path, drawn.getvalue())


def _short(reference: str) -> str:
    """"docker-archive:/long/path/web.tar" -> "web.tar"; "registry/team/web:1" -> "web:1"."""
    return reference.rsplit("/", 1)[-1]
