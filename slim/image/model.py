"""An image as slim holds it: its config JSON and its layers, already unpacked into the work directory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

from slim.image.flatten import flatten
from slim.image.layer import UnpackedLayer
from slim.errors import ImageFormatError
from slim.model import LayerSummary, RunConfig, SlimWarning
from slim.rootfs import RootFS


@dataclass
class Image:
    """An image read from any source, with its layers unpacked in the work directory: what the analysis and the
    report read, whatever transport it came from."""

    reference: str
    config: dict  # the image config document: "config" (Entrypoint, Cmd, Env...), "rootfs", "history"
    config_bytes: bytes
    layers: list[UnpackedLayer]
    repo_tags: list[str] = field(default_factory=list)

    @property
    def image_id(self) -> str:
        """The image ID as engines show it (sha256 of the config bytes), to match the image across sources and
        reports."""
        return "sha256:" + hashlib.sha256(self.config_bytes).hexdigest()

    @cached_property
    def run_config(self) -> RunConfig:
        """How the image runs, parsed once from its config document."""
        try:
            return RunConfig.from_document(self.config.get("config"))
        except ValueError as exc:
            raise ImageFormatError(f"{self.reference}: {exc}") from exc

    def __post_init__(self) -> None:
        # Layer digests are the config's diff IDs (what Docker reports); hashing every layer again costs
        # an eighth of the reading time and proves nothing slim relies on.
        diff_ids = (self.config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(self.layers):
            if self.layers:
                self.layers[0].warnings.append(SlimWarning(
                    "image.diff-ids", f"the config lists {len(diff_ids)} layers, the image has {len(self.layers)}"))
            return
        for layer, diff_id in zip(self.layers, diff_ids, strict=True):
            layer.digest = layer.digest or diff_id
            if layer.content_digest and layer.content_digest != diff_id:
                layer.warnings.append(SlimWarning(
                    "layer.digest-mismatch", f"layer {layer.name}: its content does not match the config's diff ID"))

    def rootfs(self) -> RootFS:
        """The image's filesystem as the container sees it: the layers merged, whiteouts applied."""
        return flatten(self.layers)

    def layer_summaries(self) -> list[LayerSummary]:
        """One summary per layer with the Dockerfile step that built it, for the inspect report. When the config's
        history does not line up with the layers, the steps are left empty rather than matched to the wrong layer."""
        # History rows for empty layers (ENV, CMD...) have no layer; the rest line up with layers in order.
        built = [h.get("created_by", "") for h in self.config.get("history") or [] if not h.get("empty_layer")]
        if len(built) != len(self.layers):
            built = [""] * len(self.layers)
        return [
            LayerSummary(
                digest=layer.digest,
                size_bytes=layer.size_bytes,
                entries=len(layer.entries),
                whiteouts=len(layer.whiteouts) + len(layer.opaque_dirs),
                created_by=by,
            )
            for layer, by in zip(self.layers, built, strict=True)
        ]
