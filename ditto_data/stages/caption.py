"""The ``caption`` stage: a dense description of each source clip.

Ditto captions sources with Qwen2.5-VL (backend ``qwen2.5-vl``). The CPU default,
:class:`MeasuredCaptioner`, writes what it can measure and nothing it cannot: brightness (night or
day), colourfulness and the dominant colours, how busy the texture is, the motion score, the
orientation, size and length. It is honest and repeatable, and lets instruction writing and the
dataset card work offline.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from ..builders.stage import ConfigError, ModelStageConfig, Resources, Stage, register_stage
from ..schema import CLIP, Record
from .clip_frames import clip_video, read_spread_frames
from ..models.families import Captioner
from ..models.options import VLMOptions

log = logging.getLogger(__name__)

# hue centres on OpenCV's 0..180 scale, with names a caption can use
_HUES = ((0, "red"), (15, "orange"), (28, "yellow"), (60, "green"), (90, "cyan"), (115, "blue"),
         (140, "purple"), (165, "pink"), (180, "red"))  # fmt: skip


@dataclass
class CaptionConfig(VLMOptions, ModelStageConfig):
    """``frames``: how many frames spread over the clip the captioner looks at."""

    frames: int = 4

    def validate(self) -> None:
        if self.frames < 1:
            raise ConfigError("frames", "must be at least 1")


def _hue_name(h: float) -> str:
    return min(_HUES, key=lambda c: abs(c[0] - h))[1]


def measure(frames: np.ndarray) -> dict[str, Any]:
    """Measured facts of a few frames: brightness, saturation, dominant colours, texture."""
    hsv = np.concatenate([cv2.cvtColor(f, cv2.COLOR_RGB2HSV).reshape(-1, 3) for f in frames]).astype(np.float32)
    value, sat = hsv[:, 2].mean() / 255.0, hsv[:, 1].mean() / 255.0
    coloured = hsv[(hsv[:, 1] > 60) & (hsv[:, 2] > 40)]
    colours: list[str] = []
    if len(coloured) > 0.05 * len(hsv):
        names, counts = np.unique([_hue_name(h) for h in coloured[::53, 0]], return_counts=True)
        colours = [str(n) for n, _ in sorted(zip(names, counts), key=lambda nc: (-nc[1], nc[0]))[:2]]
    gray = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
    edges = float((cv2.Canny(gray, 80, 160) > 0).mean())
    return {"brightness": round(float(value), 3), "saturation": round(float(sat), 3), "colours": colours,
            "edge_density": round(edges, 4)}


class MeasuredCaptioner(Captioner):
    """CPU caption from measured facts (see the module docstring)."""

    resources = Resources(cpus=1.0)

    def caption(self, frames: np.ndarray, info: dict[str, Any]) -> str:
        m = measure(frames)
        light = ("a dark, night-time" if m["brightness"] < 0.25 else "a dim" if m["brightness"] < 0.4
                 else "a brightly lit" if m["brightness"] > 0.65 else "an evenly lit")
        tone = ("muted, nearly monochrome" if m["saturation"] < 0.12 else "vivid" if m["saturation"] > 0.45
                else "natural")
        palette = f", dominated by {' and '.join(m['colours'])} tones" if m["colours"] else ""
        texture = ("richly detailed" if m["edge_density"] > 0.12 else "smooth, simple" if m["edge_density"] < 0.03
                   else "moderately detailed")
        motion = info.get("motion")
        moves = ("" if motion is None else " with little camera or subject motion" if motion < 40
                 else " with strong motion" if motion > 250 else " with moderate motion")
        w, h = info.get("width"), info.get("height")
        shape = "portrait" if w and h and h > w else "landscape"
        dur = info.get("duration")
        length = f" It lasts {dur:.1f} seconds" if dur else ""
        size = f" at {w}x{h}" if w and h else ""
        return (f"{light.capitalize()} {shape} video with {tone} colours{palette}; a {texture} scene{moves}."
                f"{length}{size}.").replace("..", ".")


@register_stage
class CaptionStage(Stage):
    name = "caption"
    requires = frozenset({"clip.video"})
    produces = frozenset({"clip.caption"})
    kinds = (CLIP,)
    Config = CaptionConfig
    resources = Resources(cpus=1.0)
    family = Captioner
    backends = {
        "cpu": "ditto_data.stages.caption:MeasuredCaptioner",
        "qwen2.5-vl": "ditto_data.models.qwen_vl:QwenVLCaptioner",
    }

    def process_record(self, r: Record) -> None:
        frames = read_spread_frames(clip_video(r, self.ctx.out_dir), self.config.frames)
        r.fields["caption"] = self.backend.caption(frames, dict(r.fields))
        r.provenance["caption"] = asdict(self.provenance())
