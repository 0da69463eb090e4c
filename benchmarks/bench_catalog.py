"""Reading another dataset's metadata through its description, against the bare parse of the same file.

    .venv/bin/python benchmarks/bench_catalog.py [--rows 200000] [--files 20000]

Writes an OpenVE-3M-like CSV (``;``-separated, as one copy is) and a Senorita-2M-like task JSON (with
the swap folder mistake) of ``--rows`` rows, and times, in the same run:

- baseline: ``pandas.read_csv`` / ``json.load`` of the file (what any reader pays to parse it);
- ``read_described(check_files=False)``: parse + field binding + path fixes + the resolver's
  candidates + unified rows (what a selective Hub download plans from);
- ``read_described(check_files=True)`` on ``--files`` rows whose (empty) video files exist: the
  same plus one ``stat`` per video, what ``load`` pays.

Ratios to the baseline are printed beside the times: they travel between machines better than
seconds do.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from ditto_data.catalog import describe
from ditto_data.loaders.described import Defects, read_described


def timed(fn, reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def write_openve(root: Path, n: int, touch: bool) -> None:
    with open(root / "global_style.csv", "w", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["original_video", "video", "prompt"])
        for i in range(n):
            w.writerow([f"videos/source/{i // 1000:04d}/{i}.mp4", f"videos/global_style/{i // 1000:04d}/{i}.mp4",
                        f"Turn clip {i} into a watercolor painting, with soft washes; keep the people."])
    if touch:
        for i in range(n):
            for kind in ("source", "global_style"):
                p = root / "videos" / kind / f"{i // 1000:04d}" / f"{i}.mp4"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()


def write_senorita(root: Path, n: int, touch: bool) -> None:
    rows = [{"source_video_path": f"./obj_swap_videos/{i // 1000}/{i:032x}_org.mp4",
             "target_video_path": f"./obj_swap_videos/{i // 1000}/{i:032x}_edit.mp4",
             "enhanced_instruction": f"Swap the car in clip {i} for a red bus.", "obj_id": i} for i in range(n)]
    (root / "updated_data_obj_swap.json").write_text(json.dumps(rows))
    if touch:
        for i in range(n):
            for s in ("org", "edit"):
                p = root / "obj_swap_upload" / str(i // 1000) / f"{i:032x}_{s}.mp4"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--files", type=int, default=20_000)
    args = ap.parse_args()
    cases = [("openve-3m", write_openve, "global_style.csv", lambda p: pd.read_csv(p, sep=";")),
             ("senorita-2m", write_senorita, "updated_data_obj_swap.json", lambda p: json.loads(p.read_text()))]
    print(f"{'dataset':<12} {'rows':>8} {'baseline s':>11} {'described s':>12} {'ratio':>6}   what")
    for name, write, meta, parse in cases:
        desc = describe(name)
        with tempfile.TemporaryDirectory() as big, tempfile.TemporaryDirectory() as small:
            write(Path(big), args.rows, False)
            write(Path(small), args.files, True)
            for root, n, check in ((Path(big), args.rows, False), (Path(small), args.files, True)):
                base = timed(lambda: parse(root / meta))
                d = Defects()
                got = timed(lambda: read_described(root, desc, "all", check_files=check, defects=Defects()))
                rows = read_described(root, desc, "all", check_files=check, defects=d)
                assert len(rows) == n and not d.missing, (len(rows), d.summary())
                what = "+ one stat per video" if check else "no file lookups (download planning)"
                print(f"{name:<12} {n:>8} {base:>11.3f} {got:>12.3f} {got / base:>6.1f}x  {what}")


if __name__ == "__main__":
    main()
