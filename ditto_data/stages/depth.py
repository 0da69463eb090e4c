"""The ``depth`` stage: a depth video aligned frame for frame with each source clip.

Ditto conditions VACE on a depth video (Video-Depth-Anything). The CPU generator needs none, so
the stage is off by default; enabling it needs a model (backend ``depth-anything``, ``model`` a
local folder or Hub id). The depth video (grey, near = bright) is encoded like the clip and stored
as artifact ``depth_video`` on the clip; ``instruction`` copies it onto the clip's edits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..builders.stage import ConfigError, ModelStageConfig, Resources, Stage, register_stage
from ..models.families import DepthEstimator
from ..schema import CLIP, Record
from ..video import read_frames
from .clip_frames import clip_video
from .generate import encode_checked, source_shape


@dataclass
class DepthConfig(ModelStageConfig):
    backend: str = "depth-anything"
    enabled: bool = False
    normalize: str = "frame"  # frame: min/max per frame, as VACE's depth annotator (ali-vilab/VACE); or clip
    gop: int = 20
    crf: float = 18.0
    preset: str = "veryfast"

    def validate(self) -> None:
        if self.normalize not in ("frame", "clip"):
            raise ConfigError("normalize", f"{self.normalize!r} is not one of frame, clip")
        if self.enabled and not self.model:
            raise ConfigError("model", "the depth stage needs a Depth Anything model (a local folder or Hub id)")


@register_stage
class DepthStage(Stage):
    name = "depth"
    requires = frozenset({"clip.video"})
    produces = frozenset({"clip.depth_video"})
    kinds = (CLIP,)
    Config = DepthConfig
    resources = Resources(cpus=1.0, gpus=1.0, gpu_memory_gb=4.0)
    family = DepthEstimator
    backends = {"depth-anything": "ditto_data.models.depth_anything:DepthAnythingEstimator"}

    def process_record(self, r: Record) -> None:
        cfg = self.config
        depth = np.asarray(self.backend.depth(read_frames(clip_video(r, self.ctx.out_dir))), dtype=np.uint8)
        path = self.ctx.artifact_path(f"{r.id}.depth.mp4")
        encode_checked(np.repeat(depth[..., None], 3, axis=-1), path, source_shape(r), cfg.gop, cfg.crf, cfg.preset)
        r.add_artifact("depth_video", self.ctx.relpath(path), self.provenance())
