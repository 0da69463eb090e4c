"""The ``ditto-data`` command: parses arguments and calls the library. No logic lives here.

Exit status: 0 done, 1 the work failed (a bad archive, an HTTP error, unreadable data), 2 the
command line or config is wrong (argparse's own status), 130 interrupted. An expected error is one
line on stderr; ``-v`` adds its traceback. Logging goes to the ``ditto_data`` logger only, so other
libraries' INFO lines stay out.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import __version__

console = Console(stderr=False)
PROG = "ditto-data"
DESCRIPTION = """\
Build, fetch, load and publish instruction-based video-editing datasets of the Ditto-1M kind:
(source video, instruction, edited video) triplets. Run `ditto-data COMMAND -h` for a command's options."""
EPILOG = """\
exit status: 0 done, 1 the work failed, 2 bad command line, config or input, 130 interrupted.
-v/--verbose goes before or after the command."""


class UsageError(Exception):
    """A command line that cannot be run as given (exit status 2), found before anything is written."""


def existing_dir(value: str) -> Path:
    """argparse type: a folder that exists (checked while parsing, before any command runs)."""
    p = Path(value)
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: no such folder")
    return p


def existing_path(value: str) -> Path:
    """argparse type: a file or folder that exists."""
    p = Path(value)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{value}: no such file or folder")
    return p


def _cmd_build(args: argparse.Namespace) -> int:
    from .builders import load_config
    from .pipeline import build

    cfg = load_config(args.config, workers=args.workers, executor=args.executor, ray_address=args.address)
    result = build(args.input, args.out, cfg, progress=not args.quiet)
    _print_build_summary(result)
    return 0


def _print_build_summary(result) -> None:
    from .faults import display_name

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
            t.add_row(stage or "", reason or "", str(n), display_name(ex.message or "")[:90])
        console.print(t)
    t = Table(title="stages")
    for c in ("stage", "processed", "reused", "rejected", "seconds", "rec/s"):
        t.add_column(c, justify="right" if c != "stage" else "left")
    for s in result.stages:
        t.add_row(s.name, str(s.processed), str(s.reused), str(s.rejected), f"{s.seconds:.1f}", f"{s.per_second:.2f}")
    console.print(t)


def _cmd_card(args: argparse.Namespace) -> int:
    from .cards import validate_card, write_card
    from .cards.validate import HUB_LICENSES

    if not args.out.is_dir():
        raise UsageError(f"{args.out} is not a dataset folder")
    if args.license and args.license not in HUB_LICENSES:
        raise UsageError(f"--license {args.license!r} is not a Hub license id (e.g. cc-by-4.0, apache-2.0, other)")
    path = write_card(args.out, license=args.license, repo_id=args.repo_id)
    validate_card(path, online=args.online)
    console.print(f"[bold]card:[/bold] {path} (valid)")
    return 0


# -- hub: download / extract / pack / publish (ditto_data.hub) --------------------------------


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _cmd_download(args: argparse.Namespace) -> int:
    from .hub import download, extract, plan_download

    kw = dict(presets=args.preset, include=args.include, exclude=args.exclude, revision=args.revision)
    if args.dry_run:
        plan = plan_download(args.repo_id, args.out, **kw)
        t = Table(title=f"{plan.repo_id}@{plan.revision} ({(plan.commit or '')[:12]})")
        t.add_column("file")
        t.add_column("size", justify="right")
        t.add_column("status")
        for f in plan.files:
            t.add_row(f.path, _size(f.size), "present" if f.present else "to fetch")
        console.print(t)
        console.print(f"{len(plan.files)} files, {_size(plan.total_bytes)} in total, "
                      f"{_size(plan.to_fetch_bytes)} to fetch into {args.out}")
        return 0
    path = download(args.repo_id, args.out, **kw, max_workers=args.max_workers, progress=not args.quiet)
    console.print(f"[bold]downloaded:[/bold] {path}")
    if args.extract:
        if (path / "videos").is_dir():
            _print_extract(extract(path, progress=not args.quiet))
        else:
            console.print("nothing to extract: no videos/ folder was downloaded")
    return 0


def _print_extract(report) -> int:
    t = Table(title=f"extracted into {report.videos_dir}")
    for c in ("archive", "status", "files", "reused", "refused"):
        t.add_column(c, justify="left" if c in ("archive", "status") else "right")
    for a in report.archives:
        t.add_row(a.name, a.status, str(a.files), str(a.reused), str(len(a.refused)))
    console.print(t)
    for folder in report.repaired:
        console.print(f"repaired doubled layout: videos/{folder}/{folder}/ moved up to videos/{folder}/")
    for c in report.conflicts:
        console.print(f"[yellow]left in place (differs from the file above it):[/yellow] {c}")
    for a in report.archives:
        for r in a.refused:
            console.print(f"[red]refused:[/red] {a.name}: {r.member!r}: {r.reason}", highlight=False, soft_wrap=True)
    return 1 if report.refused else 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from .hub import ArchiveError, extract

    try:
        report = extract(args.dir, names=args.only, repair_layout=not args.no_repair,
                         delete_parts=args.delete_parts, progress=not args.quiet)
    except ArchiveError as e:
        if getattr(e, "report", None) is None:
            raise
        _print_extract(e.report)
        for a in e.report.failed:  # one line per archive that failed, naming its part
            sys.stderr.write(f"{PROG}: error: {' '.join(a.error.split())}\n")
        return 1
    return _print_extract(report)


def _cmd_pack(args: argparse.Namespace) -> int:
    from .hub import pack

    results = pack(args.out, args.part_size, folders=args.folder, compresslevel=args.level, progress=not args.quiet,
                   webdataset=not args.no_webdataset, shard_size=args.shard_size)
    t = Table(title=f"packed in {args.out}")
    for c in ("folder", "status", "files", "parts", "size"):
        t.add_column(c, justify="left" if c in ("folder", "status") else "right")
    for r in results:
        t.add_row(r.folder, r.status, str(r.files), str(len(r.parts)), _size(r.bytes))
    console.print(t)
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from .hub import plan_publish, publish, validate_card

    if args.dry_run:
        plan = plan_publish(args.out, include_loose_videos=args.include_loose_videos, ignore=args.exclude)
        validate_card(plan.folder, plan)
        t = Table(title=f"would upload to {args.repo_id}")
        t.add_column("file")
        t.add_column("size", justify="right")
        for f in plan.files:
            t.add_row(f.path, _size(f.size))
        console.print(t)
        console.print(f"{len(plan.files)} files, {_size(plan.total_bytes)}; "
                      f"{len(plan.left_out)} loose videos left out (published as split archives)")
        return 0
    res = publish(args.out, args.repo_id, revision=args.revision, private=args.private or None,
                  include_loose_videos=args.include_loose_videos, ignore=args.exclude, commit_message=args.message)
    console.print(f"[bold]published:[/bold] {res.repo_url}  {len(res.sent)} files sent in {res.commits} commit(s), "
                  f"{res.unchanged} already there")
    return 0


def _cmd_export_webdataset(args: argparse.Namespace) -> int:
    from .exports.webdataset import write_webdataset

    to = args.to or args.out / "webdataset" / args.config
    shards = write_webdataset(args.out, to, config=args.config, shard_size=args.shard_size,
                              max_samples=args.max_samples, progress=not args.quiet)
    console.print(f"[bold]webdataset:[/bold] {len(shards)} shard(s) in {to.resolve()}")
    return 0


def _add_export(sub) -> None:
    e = sub.add_parser("export", help="export a built dataset to another format")
    esub = e.add_subparsers(dest="format", required=True, metavar="FORMAT")
    w = esub.add_parser("webdataset", help="tar shards of (source.mp4, edited.mp4, json) for streaming",
                        parents=[_common_flags()],
                        description="Write one config as WebDataset tar shards that webdataset, "
                        "wids (through _shards.json), Ray Data and the datasets webdataset builder read.")
    w.add_argument("out", type=existing_dir, help="the dataset folder (a build's --out, or a Ditto-1M download)")
    w.add_argument("--to", type=Path,
                   help="folder for shard-NNNNNN.tar and _shards.json, a wids index (default: OUT/webdataset/CONFIG)")
    w.add_argument("--config", default="global_style", help="training_metadata config (default: global_style)")
    w.add_argument("--shard-size", default="1GB", help="close a shard at this size (default: 1GB)")
    w.add_argument("--max-samples", type=int, help="or at this many samples (default: what makes at least 8 shards, "
                   "so DataLoader workers each read whole shards)")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=_cmd_export_webdataset)


def _cmd_eval_openve(args: argparse.Namespace) -> int:
    from .evaluation.openve import CRITERIA, LABELS, BenchError, evaluate_openve

    if not args.outputs or not args.vlm_model:
        console.print("[red]error:[/red] --bench openve needs --outputs DIR and --vlm-model MODEL")
        return 2
    try:
        res = evaluate_openve(args.path, args.outputs, args.vlm_model, device=args.device, max_frames=args.max_frames,
                              out_json=args.json, progress=not args.quiet)
    except BenchError as e:
        raise UsageError(str(e)) from e
    short = {"instruction_compliance": "IC", "consistency_detail_fidelity": "CDF", "visual_quality_stability": "VQS"}
    console.print("  ".join(f"{short[c]}: {LABELS[c]}" for c in CRITERIA) + "; score: mean of the three")
    cols = [short[c] for c in CRITERIA] + ["score"]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    t = Table(title="OpenVE-Bench per edit type (1-5; CDF and VQS capped by IC)")
    for c in ("edit type", "scored", "unscored", *cols):
        t.add_column(c, justify="left" if c == "edit type" else "right")
    for kind, v in res.summary["per_type"].items():
        t.add_row(kind, str(v["samples"]), str(v["unscored"]), *(fmt(v[k]) for k in (*CRITERIA, "score")))
    console.print(t)
    t = Table(title="OpenVE-Bench overall")
    for c in ("averaging", "over", *cols):
        t.add_column(c, justify="left" if c == "averaging" else "right")
    o = res.summary["overall"]
    t.add_row("sample-averaged (OpenVE's script)", f"{o['sample_averaged']['samples']} samples",
              *(fmt(o["sample_averaged"][k]) for k in (*CRITERIA, "score")))
    t.add_row("type-averaged (mean of types)", f"{o['type_averaged']['types']} types",
              *(fmt(o["type_averaged"][k]) for k in (*CRITERIA, "score")))
    console.print(t)
    if args.json:
        console.print(f"scores: {args.json}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import TripletError, evaluate

    if args.bench == "openve":
        return _cmd_eval_openve(args)

    try:
        result = evaluate(args.path, clip_model=args.clip_model, max_frames=args.max_frames,
                          vlm_model=args.vlm_model, device=args.device, out_json=args.json, progress=not args.quiet)
    except TripletError as e:  # the PATH argument names no readable triplets
        raise UsageError(str(e)) from e
    t = Table(title=f"edit quality ({result.config['scale']})")
    for c in ("category", "samples", "CLIP-T", "CLIP-F", "VLM"):
        t.add_column(c, justify="left" if c == "category" else "right")
    for cat, s in result.summary.items():
        t.add_row(cat, str(s["samples"]), *("-" if s[m] is None else f"{s[m]:.2f}" for m in ("clip_t", "clip_f", "vlm")))
    console.print(t)
    if args.json:
        console.print(f"scores: {args.json}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from .catalog import DescriptionError
    from .convert import convert

    try:
        s = convert(args.src, args.to, args.description, args.config, webdataset=args.webdataset,
                    license=args.license, progress=not args.quiet)
    except DescriptionError as e:
        raise UsageError(f"description does not fit: {e}") from e
    t = Table(title=f"{s.dataset} -> {args.to} (rows per config)")
    t.add_column("config")
    t.add_column("rows", justify="right")
    for name, n in s.counts.items():
        t.add_row(name, str(n))
    console.print(t)
    t = Table(title="defects (reported, not converted)")
    for c in ("kind", "rows", "examples"):
        t.add_column(c)
    r = s.read
    for kind, n, ex in (("missing video file", r["missing_files"], r["examples"]["missing_files"]),
                        ("row lacking a value", r["incomplete_rows"], r["examples"]["incomplete_rows"]),
                        ("path outside the dataset", r["paths_outside"], r["examples"]["paths_outside"]),
                        *((f"refused: {k}", n, s.refused_examples.get(k, [])) for k, n in s.refused.items())):
        t.add_row(kind, str(n), "; ".join(ex[:2])[:120])
    for fix, n in r["path_fixes"].items():
        t.add_row(f"path fixed ({fix})", str(n), "converted with the fixed path")
    console.print(t)
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    from .viewer import serve, write_static

    if args.static:
        site = write_static(args.path, args.static, progress=not args.quiet)
        rows = ", ".join(f"{k}: {v} rows" for k, v in site.rows.items())
        console.print(f"[bold]viewer:[/bold] {site.dir / 'index.html'}  ({rows}; {site.media} media files linked)")
        return 0
    console.print(f"[bold]viewer:[/bold] http://{args.host}:{args.port}/  (Ctrl-C to stop)")
    serve(args.path, host=args.host, port=args.port)
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from .builders import load_config
    from .stages.cost import plan_build

    plan = plan_build(load_config(args.config), args.samples, gpus=args.gpus, gpu_type=args.gpu_type, out_dir=args.out)
    t = Table(title=f"{args.config or 'default config'}: per sample (one edit) on {plan.gpu.name}")
    for c in ("stage", "backend", "model", "GPU-s/sample", "peak GB", "source"):
        t.add_column(c, justify="right" if c in ("GPU-s/sample", "peak GB") else "left", no_wrap=c != "model")
    for s in plan.stages:
        t.add_row(s.stage, s.backend, (s.model or "-").rsplit("/", 1)[-1], f"{s.gpu_seconds:.1f}" if s.source != "cpu"
                  else "-", f"{s.peak_memory_gb:.0f}" if s.peak_memory_gb else "-", s.source)
    console.print(t)
    for s in plan.stages:
        if s.source != "cpu":
            console.print(f"  {s.stage}: {s.detail}", highlight=False)
    days = plan.total_gpu_seconds / 86400
    console.print(f"[bold]estimate[/bold] (FLOPs at assumed throughput; measured where the source says so): "
                  f"{plan.per_sample_gpu_seconds:.0f} GPU-s a sample; {plan.samples:,} samples = "
                  f"{plan.total_gpu_seconds / 3600:,.1f} GPU-hours ({days:,.1f} GPU-days), "
                  f"{plan.wall_seconds / 3600:,.1f} h on {plan.gpus} GPU(s)")
    console.print(f"[bold]paper[/bold]: 12,000 GPU-days for 1,000,000 samples = "
                  f"{plan.paper_gpu_seconds / plan.samples:.0f} GPU-s a sample; {plan.samples:,} samples = "
                  f"{plan.paper_gpu_seconds / 86400:,.1f} GPU-days")
    for s in plan.too_big:
        console.print(f"[yellow]{s.stage}: ~{s.peak_memory_gb:.0f} GB exceeds the {plan.gpu.memory_gb:.0f} GB of a "
                      f"{plan.gpu.name}: set offload (model or sequential) or a smaller model[/yellow]")
    return 0


def _global_flags(p: argparse.ArgumentParser, top: bool) -> None:
    """Flags accepted before or after the command: on a command they leave the value parsed before it."""
    default = False if top else argparse.SUPPRESS
    p.add_argument("-v", "--verbose", action="store_true", default=default,
                   help="log debug messages, and show the traceback of an error")


def _common_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _global_flags(common, top=False)
    return common


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_flags(p, top=True)
    common = _common_flags()
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add = sub.add_parser

    def add_parser(name: str, **kw):
        kw.setdefault("description", kw.get("help", "")[:1].upper() + kw.get("help", "")[1:] + ".")
        return _add(name, parents=[common], **kw)

    sub.add_parser = add_parser  # every command takes the global flags too

    b = sub.add_parser("build", help="build a Ditto-style dataset from a folder of videos",
                       description="Build a dataset from the videos under --input, through curation, captions, "
                       "instructions, edit generation, judging and export, into --out. Re-running resumes: "
                       "finished work is not done again. Stages and thresholds are set in the YAML --config.")
    b.add_argument("--input", required=True, type=existing_dir, help="folder of source videos (searched recursively)")
    b.add_argument("--out", required=True, type=Path, help="output dataset folder (resumable)")
    b.add_argument("--config", type=Path, help="YAML build config (stages, backends, thresholds, seed)")
    b.add_argument("--workers", type=int, help="worker threads for CPU stages (default: CPU count)")
    b.add_argument("--executor", choices=["local", "ray"], help="where stages run (default: local)")
    b.add_argument("--address", help="Ray cluster address for --executor ray (default: start a local one)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=_cmd_build)

    c = sub.add_parser("card", help="render and validate a built dataset's README.md (card) and teaser image")
    c.add_argument("out", type=existing_dir, help="the dataset folder (a build's --out)")
    c.add_argument("--license", help="Hub license id (default: the build config's export.license, else 'other')")
    c.add_argument("--repo-id", default="ORG/DATASET", help="Hub repo id named in the download instructions")
    c.add_argument("--online", action="store_true", help="also validate with the Hub's API (needs network)")
    c.set_defaults(func=_cmd_card)

    from .hub.presets import PRESETS

    d = sub.add_parser("download", help="download a dataset repo, or a subset of it, from the Hub")
    d.add_argument("repo_id", help="dataset repo, e.g. QingyanBai/Ditto-1M")
    d.add_argument("--out", required=True, type=Path, help="local folder (re-running resumes)")
    d.add_argument("--preset", action="append", default=[], choices=list(PRESETS), metavar="NAME",
                   help="subset to fetch, repeatable: " + "; ".join(f"{k}: {v.description}" for k, v in PRESETS.items()))
    d.add_argument("--include", action="append", default=[], metavar="PATTERN", help="also fetch files matching")
    d.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="skip files matching")
    d.add_argument("--revision", help="branch, tag or commit (default: main)")
    d.add_argument("--dry-run", action="store_true", help="list the files and total size, fetch nothing")
    d.add_argument("--extract", action="store_true", help="extract the split archives after downloading")
    d.add_argument("--max-workers", type=int, default=8, help="parallel file downloads (default: 8)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=_cmd_download)

    e = sub.add_parser("extract", help="extract <name>.tar.gz.NN split archives into DIR/videos")
    e.add_argument("dir", type=existing_dir, help="dataset folder (or its videos/ folder)")
    e.add_argument("--only", action="append", metavar="NAME", help="extract only this archive (repeatable)")
    e.add_argument("--no-repair", action="store_true", help="leave videos/<x>/<x>/ folders as they are")
    e.add_argument("--delete-parts", action="store_true", help="delete each archive's parts once it is extracted")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=_cmd_extract)

    k = sub.add_parser("pack", help="write what a Hub upload needs: split archives and WebDataset shards",
                       description="Write each videos/<folder> as Ditto-1M split archives (<folder>.tar.gz.NN, for "
                       "Ditto-1M's tools and `download --extract`) and each config as WebDataset shards "
                       "(webdataset/<config>/, which stock `load_dataset` streams from the Hub), then point the "
                       "card's configs at the shards.")
    k.add_argument("out", type=existing_dir, help="dataset folder")
    k.add_argument("--part-size", default="2GB", help="size of each part, e.g. 2GB, 500MB, 1GiB (default: 2GB)")
    k.add_argument("--folder", action="append", metavar="NAME", help="pack only videos/NAME (repeatable)")
    k.add_argument("--level", type=int, default=1, help="gzip level (default 1: videos hardly compress)")
    k.add_argument("--shard-size", default="1GB", help="WebDataset shard size (default: 1GB, and at least 8 shards)")
    k.add_argument("--no-webdataset", action="store_true", help="split archives only")
    k.add_argument("--quiet", action="store_true", help="no progress bars")
    k.set_defaults(func=_cmd_pack)

    u = sub.add_parser("publish", help="upload a dataset folder to a Hub dataset repo (resumable)")
    u.add_argument("out", type=existing_dir, help="dataset folder")
    u.add_argument("--repo-id", required=True, help="dataset repo to create or update, e.g. me/my-ditto")
    u.add_argument("--revision", help="branch to commit to (default: main)")
    u.add_argument("--private", action="store_true", help="create the repo private")
    u.add_argument("--include-loose-videos", action="store_true",
                   help="also upload videos/<folder>/ files of folders that have split archives")
    u.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="do not upload files matching")
    u.add_argument("--message", default="Upload dataset with ditto-data", help="commit message")
    u.add_argument("--dry-run", action="store_true", help="list what would be uploaded, upload nothing")
    u.set_defaults(func=_cmd_publish)
    _add_export(sub)

    v = sub.add_parser("convert", help="write another dataset (OpenVE-3M, Senorita-2M ...) as our layout")
    v.add_argument("src", help="the dataset folder or Hub repo id")
    v.add_argument("--to", required=True, type=Path, help="output folder (Ditto tree, HF data files, DiffSynth CSVs)")
    v.add_argument("--description", help="catalog name or YAML file (default: detected, see README 'Other datasets')")
    v.add_argument("--config", help="convert one category only (default: all rows)")
    v.add_argument("--webdataset", action="store_true", help="also write WebDataset shards per category")
    v.add_argument("--license", help="the card's license id (default: the description's)")
    v.add_argument("--quiet", action="store_true", help="no progress bars")
    v.set_defaults(func=_cmd_convert)

    e = sub.add_parser("eval", help="CLIP-T, CLIP-F and VLM score of edited videos (the paper's table)")
    e.add_argument("path", type=existing_path,
                   help="CSV/JSON of source,instruction,edited; a folder with triplets.csv; "
                   "or a dataset folder (training_metadata/*.json)")
    e.add_argument("--clip-model", default="openai/clip-vit-large-patch14", help="CLIP model: local folder or Hub id")
    e.add_argument("--vlm-model", help="Qwen2.5-VL model for the VLM score (mean of the judge's four 0-10 scores)")
    e.add_argument("--max-frames", type=int, help="score the first N frames of each video (default: all)")
    e.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    e.add_argument("--json", type=Path, help="write per-sample scores and the summary to this JSON file")
    e.add_argument("--bench", choices=["openve"], help="run a benchmark's protocol instead: openve = OpenVE-Bench "
                   "(PATH: the bench folder with benchmark_videos.csv; needs --outputs and --vlm-model)")
    e.add_argument("--outputs", type=Path, help="--bench: folder of the model's edited videos, named like the sources")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=_cmd_eval)

    v = sub.add_parser("view", help="look at a dataset in the browser: triplets in sync, filters, rejections, charts")
    v.add_argument("path", type=existing_dir, help="a dataset folder (a build's --out, or a Ditto-1M download)")
    v.add_argument("--port", type=int, default=8765, help="port to serve on (default: 8765)")
    v.add_argument("--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1, this machine only)")
    v.add_argument("--static", type=Path, metavar="DIR", help="write the viewer as static files into DIR instead")
    v.add_argument("--quiet", action="store_true", help="no progress bars")
    v.set_defaults(func=_cmd_view)

    from .stages.cost import GPUS

    pl = sub.add_parser("plan", help="estimate GPU time and memory per stage before running a build")
    pl.add_argument("--config", type=Path, help="YAML build config (e.g. configs/ditto_paper.yaml)")
    pl.add_argument("--samples", type=int, required=True, help="edit triplets to generate")
    pl.add_argument("--gpus", type=int, default=1, help="GPUs the build runs on (default: 1)")
    pl.add_argument("--gpu-type", default="h100", choices=list(GPUS), help="GPU model (default: h100)")
    pl.add_argument("--out", type=Path, help="a build folder: use its measured stage times where the config matches")
    pl.set_defaults(func=_cmd_plan)
    return p


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners and notebooks swap it)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(verbose: bool) -> None:
    """Log to stderr through the ``ditto_data`` logger only: the root logger is left alone, so other
    libraries' INFO lines stay out (their warnings still reach Python's last-resort handler)."""
    pkg = logging.getLogger("ditto_data")
    if not any(isinstance(h, _StderrHandler) for h in pkg.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        pkg.addHandler(h)
    pkg.setLevel(logging.DEBUG if verbose else logging.INFO)


def exit_status(e: BaseException) -> int | None:
    """The exit status of an expected error; None for a bug (Python's traceback, status 1).

    1: the work failed (an archive, the Hub, a video, the card, the disk). 2: what was asked cannot be
    done as given (the command line, the config, a folder that is not a dataset, a value out of range).
    """
    from huggingface_hub.errors import HfHubHTTPError

    from .atomic import Busy
    from .builders.config import ConfigError
    from .builders.sources import NoVideosError
    from .cards import CardError
    from .hub import HubError
    from .video import VideoError

    if isinstance(e, (UsageError, ConfigError, NoVideosError)):
        return 2
    if isinstance(e, (HubError, HfHubHTTPError, CardError, VideoError, Busy)):
        return 1
    if isinstance(e, (FileNotFoundError, NotADirectoryError, ValueError)):
        return 2
    if isinstance(e, OSError):
        return 1
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version (0) or a malformed command line (2, said on stderr)
        return int(e.code or 0)
    configure_logging(args.verbose)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted: finished work is kept; run the same command again to go on\n")
        return 130
    except Exception as e:  # noqa: BLE001 - the one place errors become exit statuses
        status, line = error_line(e)
        if status is None:
            raise  # a bug: Python's traceback and status 1
        if args.verbose:
            traceback.print_exc()
        sys.stderr.write(f"{PROG}: {line}\n")
        return status


def error_line(e: BaseException) -> tuple[int | None, str]:
    """(exit status, the one line to say) of an error; status None for a bug."""
    from .faults import MachineFault, display_name, machine_fault
    from .hub.errors import unreachable

    why = machine_fault(e)  # the machine's fault (also when a Ray worker's comes back wrapped)
    if why is not None:
        return 1, display_name(f"stopped: {e if isinstance(e, MachineFault) else why} -- the machine's fault, not "
                               "the data's: nothing was recorded as rejected; fix the cause and run the same command again")
    hub = unreachable(e)  # a connection error: the endpoint, never the token
    if hub is not None:
        return 1, f"error: {hub}"
    return exit_status(e), display_name("error: " + (" ".join(str(e).split()) or type(e).__name__))


if __name__ == "__main__":
    sys.exit(main())
