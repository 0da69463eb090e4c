"""Benchmark: near-duplicate detection on a labelled set made from the real dev clips by FFmpeg.

Builds the set of ``ditto_data.evaluation.neardup_pairs`` (re-encodes, rescale, crop, letterbox,
pillarbox, frame-rate change, wrong frame-rate header, sub-clips, damaged frames, overlays, flip,
grading; hard negatives: other clips of one scene, other shots of one film, other moments of a
static setup), then scores every labelled pair with

- **ours**: source signatures (the standardizer's analysis frames) -> faiss key-frame candidates ->
  time alignment (``ditto_data.stages.sourcedup``), at the calibrated threshold;
- **baseline**: the previous method, cosine of clip keyframe vectors (colour layout of 4 keyframes
  of the first standardized 20 fps clip) at its threshold 0.95;
- **dinov2** clip vectors where its weights are in the local Hugging Face cache.

Prints precision and recall per transform class and overall, side by side, and the threshold
each method would need for precision >= 0.99 (its calibration).

    .venv/bin/python benchmarks/bench_neardup.py       # the set is made once under --work (minutes)
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
from _media import media  # noqa: E402  (puts the checkout on sys.path)

from ditto_data.evaluation.neardup_pairs import (BASES, ClassScore, LabelledPair, labelled_pairs, make_items,
                                                 precision, score_pairs)
from ditto_data.stages.sourcedup import (MIN_COVERAGE, MIN_SIMILARITY, THRESHOLD, candidate_pairs,
                                             single_blas_thread)
from ditto_data.stages.timealign import align
from ditto_data.video.signature import VideoSignature, signature_from_grey
from ditto_data.video.standard_clips import analyse

SIGNATURE_SOURCE_FPS = 20.0  # the standardizer's analysis rate (its target fps)
BASELINE_THRESHOLD = 0.95


def signatures(items, work: Path) -> list[VideoSignature]:
    out = []
    for it in items:
        path = work / "signatures" / f"{it.name}.npz"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            scan = analyse(it.path, SIGNATURE_SOURCE_FPS, 0.2, keep_frames=True)
            signature_from_grey(scan.frames, SIGNATURE_SOURCE_FPS).save(path)
        out.append(VideoSignature.load(path))
    return out


def clip_vectors(items, work: Path, backend) -> np.ndarray:
    """One clip vector per item: its first 101 frames at 20 fps (320x176, as configs/small.yaml
    sizes them), 4 keyframes embedded by ``backend``."""
    import subprocess

    from ditto_data.stages.clip_frames import read_spread_frames

    vecs = []
    for it in items:
        clip = work / "clips" / f"{it.name}.mp4"
        if not clip.is_file():
            clip.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", it.path, "-an", "-vf",
                            "fps=20,scale=320:176:force_original_aspect_ratio=increase,crop=320:176,setsar=1",
                            "-frames:v", "101", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18",
                            "-pix_fmt", "yuv420p", str(clip)], check=True)
        vecs.append(np.asarray(backend.embed(read_spread_frames(clip, 4)), dtype=np.float32))
    return np.stack(vecs)


def sweep(pairs: list[LabelledPair], scores: dict[tuple[int, int], float], skip) -> tuple[float | None, float]:
    """Lowest score threshold with overall precision >= 0.99, and its recall."""
    labelled = [(scores.get((p.a, p.b), -np.inf), p.positive) for p in pairs if not skip(p.cls)]
    for t in sorted({s for s, _ in labelled if np.isfinite(s)}):
        tp = sum(pos and s >= t for s, pos in labelled)
        fp = sum((not pos) and s >= t for s, pos in labelled)
        if tp + fp and tp / (tp + fp) >= 0.99:
            return t, tp / max(1, sum(pos for _, pos in labelled))
    return None, 0.0


def fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path(".cache/bench_neardup"), help="where the set is made")
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    ap.add_argument("--min-coverage", type=float, default=MIN_COVERAGE)
    ap.add_argument("--no-baseline", action="store_true", help="skip the clip-vector baseline")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    t = time.perf_counter()
    items = make_items(media([b.file for b in BASES]), args.work)
    pairs = labelled_pairs(items)
    skip = lambda cls: cls == "copy_vs_copy"  # noqa: E731  reported, not part of the overall figures
    print(f"set: {len(items)} videos from {len(BASES)} dev clips, {len(pairs):,} labelled pairs "
          f"({sum(p.positive for p in pairs)} positive), made/found in {time.perf_counter() - t:.0f}s "
          f"under {args.work}")

    t = time.perf_counter()
    sigs = signatures(items, args.work)
    t_sig = time.perf_counter() - t
    t = time.perf_counter()
    cands = candidate_pairs(sigs)
    t_cand = time.perf_counter() - t
    t = time.perf_counter()
    ours_scores: dict[tuple[int, int], float] = {}
    ours: set[tuple[int, int]] = set()
    with single_blas_thread():
        for i, j in cands:
            al = align(sigs[i], sigs[j])
            if al is not None and al.coverage >= args.min_coverage and not al.similarity < MIN_SIMILARITY:
                ours_scores[(i, j)] = al.score
                if al.score >= args.threshold:
                    ours.add((i, j))
    t_align = time.perf_counter() - t
    n_pairs = len(items) * (len(items) - 1) // 2
    print(f"ours: signatures {t_sig:.1f}s, {len(cands):,} faiss candidates of {n_pairs:,} "
          f"pairs in {t_cand:.2f}s, aligned in {t_align:.1f}s ({1000 * t_align / max(1, len(cands)):.0f} ms a pair)")

    methods = {"ours": (ours, ours_scores, args.threshold)}
    if not args.no_baseline:
        from ditto_data.stages.features import ColorLayoutFeatures, FeaturesConfig

        t = time.perf_counter()
        x = clip_vectors(items, args.work, ColorLayoutFeatures(FeaturesConfig()))
        sims = x @ x.T
        base_scores = {(p.a, p.b): float(sims[p.a, p.b]) for p in pairs}
        methods["baseline"] = ({k for k, v in base_scores.items() if v >= BASELINE_THRESHOLD}, base_scores,
                               BASELINE_THRESHOLD)
        print(f"baseline: clip keyframe vectors in {time.perf_counter() - t:.1f}s")
    dinov2 = dinov2_model()
    if dinov2 is None:
        print("dinov2: no weights in the local Hugging Face cache (facebook/dinov2-*): not measured")
    else:
        from ditto_data.models.dinov2 import Dinov2Features
        from ditto_data.stages.features import FeaturesConfig

        cfg = FeaturesConfig(backend="dinov2", model=dinov2)
        x = clip_vectors(items, args.work, Dinov2Features(cfg))
        sims = x @ x.T
        d_scores = {(p.a, p.b): float(sims[p.a, p.b]) for p in pairs}
        from ditto_data.stages.dedup import DINOV2_THRESHOLD

        methods["dinov2"] = ({k for k, v in d_scores.items() if v >= DINOV2_THRESHOLD}, d_scores, DINOV2_THRESHOLD)

    results = {name: score_pairs(pairs, pred, skip) for name, (pred, _, _) in methods.items()}
    names = list(methods)
    classes = sorted({p.cls for p in pairs},
                     key=lambda c: (c.startswith(("hard", "different")), c == "copy_vs_copy", c))
    head = f"{'class':22s} {'pairs':>6s} " + " ".join(f"{n + ' P':>11s} {n + ' R':>11s}" for n in names)
    print()
    print(head)
    print("-" * len(head))

    def row(label: str, per: list[ClassScore]) -> str:
        s = per[0]
        cells = []
        for c in per:
            p = precision(c.tp, c.fp)
            cells.append(f"{fmt(p):>11s} {fmt(c.recall):>11s}")
        n = s.positives + s.negatives
        return f"{label:22s} {n:6d} " + " ".join(cells)

    for cls in classes:
        print(row(cls + (" *" if skip(cls) else ""), [results[n][0][cls] for n in names]))
    print("-" * len(head))
    print(row("overall", [results[n][1] for n in names]))
    print("(* between two copies: reported, not in the overall figures; P on a negative-only class is "
          "'-' unless something was merged)")
    for n in names:
        total = results[n][1]
        hard_fp = sum(results[n][0][c].fp for c in classes if c.startswith("hard"))
        t99, r99 = sweep(pairs, methods[n][1], skip)
        neg = [methods[n][1].get((p.a, p.b), -np.inf) for p in pairs if not p.positive]
        pos = [methods[n][1].get((p.a, p.b), -np.inf) for p in pairs if p.positive and not skip(p.cls)]
        print(f"{n}: threshold {methods[n][2]:g}: precision {fmt(precision(total.tp, total.fp))}, recall "
              f"{fmt(total.recall)}, hard negatives merged {hard_fp}; highest negative score {max(neg):.3f}, "
              f"positive scores >= {np.percentile(pos, 5):.3f} for 95%; lowest score threshold with precision "
              f">= 0.99: {fmt(t99)} (recall {r99:.3f})")
    ours_total = results["ours"][1]
    ok = ((ours_total.recall or 0) >= 0.95 and (precision(ours_total.tp, ours_total.fp) or 0) >= 0.99
          and not any(results["ours"][0][c].fp for c in classes if c.startswith("hard")))
    print(f"target (ours): recall >= 0.95 at precision >= 0.99, no hard negative merged: {'met' if ok else 'MISSED'}")
    for n in names:
        for p in pairs:
            hit = (p.a, p.b) in methods[n][0]
            if skip(p.cls) or hit == p.positive or n != "ours":
                continue
            print(f"  ours {'missed' if p.positive else 'merged'}: {items[p.a].name} ~ {items[p.b].name} ({p.cls}, "
                  f"score {methods[n][1].get((p.a, p.b), float('nan')):.3f})")


def dinov2_model() -> str | None:
    """A DINOv2 model id whose weights are in the local Hugging Face cache, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for repo in ("facebook/dinov2-base", "facebook/dinov2-small", "facebook/dinov2-large"):
        hit = try_to_load_from_cache(repo, "config.json")
        if isinstance(hit, str):
            return repo
    return None


if __name__ == "__main__":
    main()
