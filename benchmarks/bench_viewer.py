"""The viewer on a million rows: index a Ditto-1M-sized ``training_metadata`` JSON, then serve pages.

A synthetic Ditto-1M metadata file (``--rows`` triplets with Ditto's paths and instruction-like
text, no videos: only the metadata matters here) is indexed by ``DatasetIndex`` and queried the way
the page does: the first page, a page deep in the list, a category filter, a text filter, and a
sort by a score (scores as our builds' records carry them, ``--scores`` rows of them). Baseline side
by side: ``json.load`` of the same file, the least any reader of it pays. Prints seconds, the ratio
to the baseline, each query's latency and the index's memory (RSS growth). Usage:
    PYTHONPATH=. python benchmarks/bench_viewer.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ditto_data.viewer import DatasetIndex, Query  # noqa: E402

WORDS = ("make it look like a watercolour painting pencil sketch with warm golden tones turn the scene into "
         "anime style add snow replace the sky with a sunset cyberpunk neon lights oil painting").split()
FOLDERS = ("global_style1", "global_style2", "global_freeform1", "local")


def write_dataset(root: Path, rows: int, scored: int, seed: int = 0) -> None:
    rnd = random.Random(seed)
    entries, records = [], []
    for i in range(rows):
        h = f"{rnd.getrandbits(64):016x}"
        folder = FOLDERS[i % len(FOLDERS)]
        shard = f"{i // 1000 % 1000:04d}"
        entries.append({"source_path": f"source/{shard}/{h}.mp4",
                        "instruction": " ".join(rnd.choices(WORDS, k=rnd.randint(6, 16))).capitalize() + ".",
                        "edited_path": f"{folder}/{shard}/{h}_{i % 3}.mp4"})
        if i < scored:
            records.append({"id": f"{h}_{i % 3}", "kind": "edit", "status": "ok", "fields": {"scores": {
                "quality": round(rnd.random(), 4), "temporal_consistency": round(rnd.random(), 4)}}})
    (root / "training_metadata").mkdir(parents=True)
    (root / "training_metadata" / "global.json").write_text(json.dumps(entries))
    if records:
        (root / ".ditto").mkdir()
        (root / ".ditto" / "records.json").write_text(json.dumps(records))


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--scores", type=int, default=1_000_000, help="rows with judge scores (from records)")
    args = ap.parse_args()
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root, args.rows, args.scores)
        size = (root / "training_metadata" / "global.json").stat().st_size
        t_import, _ = timed(lambda: __import__("pandas"))  # pyarrow imports it on first use: once per process
        base, _ = timed(lambda: json.loads((root / "training_metadata" / "global.json").read_text()))
        gc.collect()
        rss0 = proc.memory_info().rss
        t_open, index = timed(lambda: DatasetIndex(root))
        t_view, view = timed(lambda: index.view("global"))
        gc.collect()
        rss1 = proc.memory_info().rss
        print(f"{args.rows:,} rows ({size / 1e6:.0f} MB of JSON), {args.scores:,} with scores")
        print(f"baseline json.load of the metadata: {base:.2f} s "
              f"(one-time pandas import, not counted: {t_import:.1f} s)")
        print(f"index: records {t_open:.2f} s + view {t_view:.2f} s = {t_open + t_view:.2f} s "
              f"({(t_open + t_view) / base:.2f}x the baseline); RSS +{(rss1 - rss0) / 2**20:.0f} MiB "
              f"(records and table, {view.table.nbytes / 2**20:.0f} MiB of it the Arrow table)")
        word = "cyberpunk"
        queries = {
            "first page": Query(),
            "page 10,000": Query(offset=500_000 if args.rows > 500_000 else args.rows // 2),
            "category filter": Query(facets={"category": "local"}),
            f"text filter {word!r}": Query(text=word),
            "sort by quality, descending": Query(sort="quality", desc=True) if view.scores else Query(),
            "text + range + sort": Query(text=word, ranges={"quality": (0.5, None)}, sort="temporal_consistency")
            if view.scores else Query(text=word),
        }
        print(f"  {'query':32s} {'first page':>11s} {'next page':>11s}")
        for name, q in queries.items():
            t1, page = timed(lambda q=q: index.page("global", q))
            q.offset += q.limit  # the same selection, one page on: served from the view's kept selections
            t2, _ = timed(lambda q=q: index.page("global", q))
            print(f"  {name:32s} {t1 * 1000:8.1f} ms {t2 * 1000:8.1f} ms  ({page['total']:,} matching)")


if __name__ == "__main__":
    main()
