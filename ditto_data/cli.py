"""The ``ditto-data`` command: parses arguments and calls the library. No logic lives here."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(stderr=False)


def _cmd_build(args: argparse.Namespace) -> int:
    from .builders import build, load_config

    cfg = load_config(args.config, workers=args.workers, executor=args.executor, ray_address=args.address)
    result = build(args.input, args.out, cfg, progress=not args.quiet)
    _print_build_summary(result)
    return 0


def _print_build_summary(result) -> None:
    console.print(f"[bold]dataset:[/bold] {result.out_dir.resolve()}  ({result.seconds:.1f}s)")
    t = Table(title="rows per config")
    t.add_column("config")
    t.add_column("rows", justify="right")
    for name, n in sorted(result.counts.items()):
        t.add_row(name, str(n))
    console.print(t)
    rej = result.rejections
    if rej:
        t = Table(title="rejected")
        for c in ("stage", "reason", "records", "example"):
            t.add_column(c)
        for (stage, reason), n in sorted(rej.items(), key=lambda kv: -kv[1]):
            ex = next(r for r in result.records if not r.ok and (r.rejected_by, r.reason) == (stage, reason))
            t.add_row(stage or "", reason or "", str(n), (ex.message or "")[:90])
        console.print(t)
    t = Table(title="stages")
    for c in ("stage", "processed", "reused", "rejected", "seconds", "rec/s"):
        t.add_column(c, justify="right" if c != "stage" else "left")
    for s in result.stages:
        t.add_row(s.name, str(s.processed), str(s.reused), str(s.rejected), f"{s.seconds:.1f}", f"{s.per_second:.2f}")
    console.print(t)


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import TripletError, evaluate

    try:
        result = evaluate(args.path, clip_model=args.clip_model, max_frames=args.max_frames,
                          vlm_model=args.vlm_model, device=args.device, out_json=args.json, progress=not args.quiet)
    except TripletError as e:
        console.print(f"[red]error:[/red] {e}")
        return 2
    t = Table(title=f"edit quality ({result.config['scale']})")
    for c in ("category", "samples", "CLIP-T", "CLIP-F", "VLM"):
        t.add_column(c, justify="left" if c == "category" else "right")
    for cat, s in result.summary.items():
        t.add_row(cat, str(s["samples"]), *("-" if s[m] is None else f"{s[m]:.2f}" for m in ("clip_t", "clip_f", "vlm")))
    console.print(t)
    if args.json:
        console.print(f"scores: {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ditto-data", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build a Ditto-style dataset from a folder of videos")
    b.add_argument("--input", required=True, type=Path, help="folder of source videos (searched recursively)")
    b.add_argument("--out", required=True, type=Path, help="output dataset folder (resumable)")
    b.add_argument("--config", type=Path, help="YAML build config (stages, backends, thresholds, seed)")
    b.add_argument("--workers", type=int, help="worker threads for CPU stages (default: CPU count)")
    b.add_argument("--executor", choices=["local", "ray"], help="where stages run (default: local)")
    b.add_argument("--address", help="Ray cluster address for --executor ray (default: start a local one)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=_cmd_build)

    e = sub.add_parser("eval", help="CLIP-T, CLIP-F and VLM score of edited videos (the paper's table)")
    e.add_argument("path", type=Path, help="CSV/JSON of source,instruction,edited; a folder with triplets.csv; "
                   "or a dataset folder (training_metadata/*.json)")
    e.add_argument("--clip-model", default="openai/clip-vit-large-patch14", help="CLIP model: local folder or Hub id")
    e.add_argument("--vlm-model", help="Qwen2.5-VL model for the VLM score (mean of the judge's four 0-10 scores)")
    e.add_argument("--max-frames", type=int, help="score the first N frames of each video (default: all)")
    e.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    e.add_argument("--json", type=Path, help="write per-sample scores and the summary to this JSON file")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=_cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from .builders.config import ConfigError

    try:
        return args.func(args)
    except ConfigError as e:
        console.print(f"[red]bad config:[/red] {e}")
        return 2
    except (FileNotFoundError, NotADirectoryError) as e:
        console.print(f"[red]error:[/red] {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
