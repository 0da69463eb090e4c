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


def _cmd_export_webdataset(args: argparse.Namespace) -> int:
    from .exports.webdataset import write_webdataset

    shards = write_webdataset(args.dataset, args.out, config=args.config, shard_size=args.shard_size,
                              max_samples=args.max_samples, progress=not args.quiet)
    console.print(f"[bold]webdataset:[/bold] {len(shards)} shard(s) in {args.out.resolve()}")
    return 0


def _add_export(sub) -> None:
    e = sub.add_parser("export", help="export a built dataset to another format")
    esub = e.add_subparsers(dest="format", required=True)
    w = esub.add_parser("webdataset", help="tar shards of (source.mp4, edited.mp4, json) for streaming")
    w.add_argument("out", type=Path, help="folder for shard-NNNNNN.tar and shards.json")
    w.add_argument("--dataset", type=Path, default=Path("."), help="dataset folder (default: current folder)")
    w.add_argument("--config", default="global_style", help="training_metadata config (default: global_style)")
    w.add_argument("--shard-size", default="1GB", help="close a shard at this size (default: 1GB)")
    w.add_argument("--max-samples", type=int, help="or at this many samples")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=_cmd_export_webdataset)


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
    _add_export(sub)
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
    except (FileNotFoundError, NotADirectoryError, ValueError) as e:
        console.print(f"[red]error:[/red] {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
