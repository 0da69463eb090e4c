"""The ``features`` stage: one L2-normalised vector per source clip, from a few spread keyframes.

Ditto deduplicates sources on DINOv2 features. The CPU default, :class:`ColorLayoutFeatures`,
describes each keyframe by its layout at thumbnail size (a 16x16 lightness thumbnail, mean-centred,
and an 8x8 chroma thumbnail in CIELAB), in the spirit of MPEG-7's colour layout descriptor: area
averaging down to a thumbnail throws away exactly what re-encoding, compression and resizing
change (blocking, noise, sharpness), while different scenes keep different layouts. Keyframe
vectors are concatenated in time order, so two clips match only when they match frame for frame.

The vector is written as a ``.npy`` artifact (``features``), not stored in the record: the ledger
is JSON and every later stage copies every field forward, so a 1,536-float field would cost tens of
kilobytes per record per stage; the dedup stage reads the files back in one pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from .. import atomic
from ..builders.stage import ConfigError, ModelStageConfig, Resources, Stage, register_stage
from ..models.families import FrameEmbedder
from ..schema import CLIP, Record
from .clip_frames import clip_video, read_spread_frames

log = logging.getLogger(__name__)


@dataclass
class FeaturesConfig(ModelStageConfig):
    """``num_keyframes`` frames spread evenly over each clip are embedded.

    CPU backend only: ``thumb_size`` is the lightness thumbnail's side, ``chroma_size`` the chroma
    thumbnail's, ``chroma_weight`` the share of the squared norm given to colour (0 to 1).
    """

    num_keyframes: int = 4
    thumb_size: int = 16
    chroma_size: int = 8
    chroma_weight: float = 0.3

    def validate(self) -> None:
        if self.num_keyframes < 1:
            raise ConfigError("num_keyframes", "must be at least 1")
        if self.thumb_size < 2:
            raise ConfigError("thumb_size", "must be at least 2")
        if self.chroma_size < 1:
            raise ConfigError("chroma_size", "must be at least 1")
        if not 0.0 <= self.chroma_weight <= 1.0:
            raise ConfigError("chroma_weight", f"must be between 0 and 1, got {self.chroma_weight}")


class ColorLayoutFeatures(FrameEmbedder):
    """CPU perceptual features: per keyframe, a mean-centred lightness thumbnail and a chroma
    thumbnail (CIELAB), each unit-norm, weighted and concatenated over the keyframes."""

    resources = Resources(cpus=1.0)
    config: FeaturesConfig

    def dim(self) -> int:
        c = self.config
        return c.num_keyframes * (c.thumb_size ** 2 + 2 * c.chroma_size ** 2)

    def frame_vector(self, frame: np.ndarray) -> np.ndarray:
        c = self.config
        lab = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2LAB).astype(np.float32)
        light = cv2.resize(lab[..., 0], (c.thumb_size, c.thumb_size), interpolation=cv2.INTER_AREA).ravel()
        light = _unit(light - light.mean())
        chroma = cv2.resize(lab[..., 1:], (c.chroma_size, c.chroma_size), interpolation=cv2.INTER_AREA)
        chroma = _unit(chroma.ravel() - 128.0)  # 128 is neutral grey in 8-bit LAB
        return np.concatenate([light * np.sqrt(1 - c.chroma_weight), chroma * np.sqrt(c.chroma_weight)])

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """frames uint8 [T, H, W, 3] (T keyframes) -> float32 [D], L2-normalised.

        Fewer than ``num_keyframes`` frames (a very short clip) are repeated to fill the slots, so
        every vector has the same length.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            raise ValueError(f"expected frames [T, H, W, 3] with T >= 1, got shape {frames.shape}")
        k = self.config.num_keyframes
        picks = [frames[min(len(frames) - 1, i * len(frames) // k)] for i in range(k)]
        return _unit(np.concatenate([self.frame_vector(f) for f in picks])).astype(np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else np.zeros_like(v)


@register_stage
class FeaturesStage(Stage):
    name = "features"
    requires = frozenset({"clip.video"})
    produces = frozenset({"clip.features"})
    kinds = (CLIP,)
    batch_size = 1
    Config = FeaturesConfig
    resources = Resources(cpus=1.0)
    family = FrameEmbedder
    backends = {
        "cpu": "ditto_data.stages.features:ColorLayoutFeatures",
        "dinov2": "ditto_data.models.dinov2:Dinov2Features",
    }

    def process_record(self, r: Record) -> None:
        frames = read_spread_frames(clip_video(r, self.ctx.out_dir), self.config.num_keyframes)
        vec = np.asarray(self.backend.embed(frames), dtype=np.float32)
        out = self.ctx.artifact_path(f"{r.id}.npy")
        with atomic.atomic_path(out) as tmp:
            np.save(tmp, vec)
        r.fields["features_dim"] = int(vec.shape[0])
        r.add_artifact("features", self.ctx.relpath(out), self.provenance(keyframes=len(frames)))


def load_vector(path) -> np.ndarray:
    """A features artifact back as float32 [D]."""
    return np.load(path, allow_pickle=False).astype(np.float32, copy=False).ravel()
