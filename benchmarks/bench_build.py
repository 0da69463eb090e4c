"""Whole build on CPU: source clips per minute per core, and each stage's share of the time.

    .venv/bin/python benchmarks/bench_build.py [--config configs/demo.yaml] [--clips N]

Builds from the real sample clips (fetched and cached by ``ditto_data.samples``)
into a temporary folder with the CPU defaults. The shares are ratios of one run, so they compare
across machines better than the absolute times do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from _media import ROOT, media

from ditto_data import build, load_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "demo.yaml"))
    ap.add_argument("--clips", type=int, default=0, help="use only the first N input files (0: all)")
    args = ap.parse_args()
    files = sorted(p for p in media().iterdir() if p.is_file())
    if args.clips:
        files = files[: args.clips]
    cfg = load_config(args.config)
    cores = cfg.workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in"
        inp.mkdir()
        for f in files:
            shutil.copy(f, inp / f.name)
        t0 = time.perf_counter()
        result = build(inp, Path(tmp) / "out", cfg, progress=False)
        total = time.perf_counter() - t0
    clips = sum(1 for r in result.records if r.kind == "clip")
    edits = sum(result.counts.get(c, 0) for c in ("local", "global_style", "global_freeform"))
    staged = sum(s.seconds for s in result.stages)
    print(f"inputs {len(files)}, source clips {clips}, triplets kept {edits}, {total:.1f}s on {cores} cores")
    print(f"throughput: {clips / (total / 60) / cores:.2f} source clips per minute per core")
    print(f"{'stage':<14}{'seconds':>9}{'share':>8}{'records':>9}")
    for s in result.stages:
        print(f"{s.name:<14}{s.seconds:>9.1f}{s.seconds / total:>8.1%}{s.processed:>9}")
    print(f"{'export+scan':<14}{total - staged:>9.1f}{(total - staged) / total:>8.1%}")


if __name__ == "__main__":
    main()
