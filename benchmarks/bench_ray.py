"""Ray executor vs local executor: the same pipeline over the same clips, build time ratio printed.

Uses the real CPU pipeline when its stages are in this tree (``standardize`` registered), otherwise
the FFmpeg test stages of ``tests/ray_stages.py`` (scale, a global rank, two filtered edits per clip),
and says which. Both builds start from an empty output folder; the Ray cluster is started before
the clock starts (its start-up is printed apart), so the ratio is the executor's own overhead or gain.

    .venv/bin/python benchmarks/bench_ray.py --workers 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import ray_stages  # noqa: E402
from _media import media  # noqa: E402

from ditto_data.builders.config import load_config  # noqa: E402
from ditto_data.builders.ray_executor import RayExecutor  # noqa: E402
from ditto_data.builders.runner import LocalExecutor  # noqa: E402
from ditto_data.builders.stage import registered_stages  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, help="folder of input clips (default: the fetched sample clips)")
    ap.add_argument("--clips", type=int, default=6, help="how many clips of the media folder")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--frames", type=int, default=60, help="frames per clip (test stages only)")
    args = ap.parse_args()

    real = "standardize" in registered_stages()
    if real:
        cfg_raw = {"workers": args.workers, "stages": {"standardize": {"width": 320, "height": 176}}}
        what = "real CPU pipeline (320x176)"
    else:
        cfg_raw = {"workers": args.workers, "pipeline": ray_stages.PIPELINE,
                   "stages": {"_ray_scale": {"width": 320, "height": 176, "frames": args.frames}}}
        what = f"FFmpeg test stages of tests/ray_stages.py (320x176, {args.frames} frames; real stages not merged)"

    import ray

    with tempfile.TemporaryDirectory(prefix="bench_ray_") as tmp:
        inp = Path(tmp) / "in"
        inp.mkdir()
        clips = sorted(p for p in media(folder=args.media).iterdir() if p.is_file())[: args.clips]
        for p in clips:
            shutil.copy(p, inp / p.name)

        t0 = time.perf_counter()
        local, _ = ray_stages.run_pipeline(inp, Path(tmp) / "local", load_config(cfg_raw), LocalExecutor(args.workers))
        t_local = time.perf_counter() - t0

        t0 = time.perf_counter()
        path = os.pathsep.join([str(ROOT / "tests"), str(ROOT), os.environ.get("PYTHONPATH", "")])
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": path}})
        t_start = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            remote, _ = ray_stages.run_pipeline(inp, Path(tmp) / "ray", load_config(cfg_raw), RayExecutor())
            t_ray = time.perf_counter() - t0
        finally:
            ray.shutdown()
        same = [r.to_dict() for r in local] == [r.to_dict() for r in remote]

    print(f"pipeline: {what}")
    print(f"clips: {len(clips)}  workers: {args.workers}  records out: {len(remote)}  identical: {same}")
    print(f"local build: {t_local:.2f}s   ray build: {t_ray:.2f}s   (ray cluster start-up: {t_start:.2f}s, not counted)")
    print(f"ray / local build time: {t_ray / t_local:.2f}x")


if __name__ == "__main__":
    main()
