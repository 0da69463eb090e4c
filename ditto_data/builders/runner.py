"""The runner: inputs -> stages (through the ledger) -> export.

For each stage in the config's pipeline the runner computes a chained fingerprint, loads what the
ledger already holds for it, hands the rest to an executor in batches, and appends each finished
batch to the ledger before going on. Executors differ only in *where* ``process`` runs: ``local``
uses a thread pool in this process, ``ray`` uses Ray Data actor pools (``ray_executor.py``). An
executor with ``map_chain`` (Ray) gets each run of consecutive per-record stages at once and
streams them into each other (``chain.py``); global stages always run alone.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tqdm.auto import tqdm

from .. import atomic, layout
from ..faults import raise_if_machine_fault
from ..schema import Record, content_id
from . import timings
from .chain import Link, run_chain, segments
from .config import BuildConfig, load_config
from .ledger import Ledger
from .sources import scan_inputs
from .stage import Stage, StageConfig, StageContext, config_hash, fingerprint, get_stage

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs a stage's ``process`` over records; yields (inputs, outputs) per finished batch."""

    def map(self, stage: type[Stage], config: StageConfig, ctx: StageContext,
            records: list[Record]) -> Iterator[tuple[list[Record], list[Record]]]: ...

    def close(self) -> None: ...


def batches(records: list[Record], size: int | None) -> list[list[Record]]:
    if size is None:
        return [records] if records else []
    return [records[i:i + size] for i in range(0, len(records), size)]


class LocalExecutor:
    """Threads in this process: FFmpeg, OpenCV, faiss and torch release the GIL where it matters."""

    def __init__(self, workers: int = 0):
        self.workers = workers or os.cpu_count() or 1

    def map(self, stage, config, ctx, records):
        res = stage.resources_for(config)
        threads = 1 if res.gpus > 0 or stage.batch_size is None else max(1, int(self.workers / max(res.cpus, 1.0)))
        instance = stage(config, ctx)
        instance.setup()
        todo = batches(records, stage.batch_size)
        if threads == 1:
            for b in todo:
                yield b, instance.process(b)
            return
        with ThreadPoolExecutor(threads, thread_name_prefix=stage.name) as pool:
            pending = {}
            it = iter(todo)
            for b in it:  # keep a bounded number of batches in flight
                pending[pool.submit(instance.process, b)] = b
                if len(pending) >= 2 * threads:
                    break
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    b = pending.pop(fut)
                    yield b, fut.result()
                    nxt = next(it, None)
                    if nxt is not None:
                        pending[pool.submit(instance.process, nxt)] = nxt

    def close(self) -> None:
        pass


@dataclass
class StageStats:
    name: str
    fingerprint: str
    processed: int = 0  # records this run processed
    reused: int = 0  # records found finished in the ledger
    rejected: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0


@dataclass
class BuildResult:
    out_dir: Path
    records: list[Record]
    stages: list[StageStats] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # config name -> rows exported
    seconds: float = 0.0

    @property
    def rejections(self) -> Counter:
        """(stage, reason) -> number of records rejected for it."""
        return Counter((r.rejected_by, r.reason) for r in self.records if not r.ok)


def group_outputs(inputs: list[Record], outputs: list[Record], stage: str) -> dict[str, list[Record]]:
    """Assign each output to its input (same id, or child by ``parent_id``); every input needs one."""
    ids = {r.id for r in inputs}
    grouped: dict[str, list[Record]] = {r.id: [] for r in inputs}
    for o in outputs:
        key = o.id if o.id in ids else o.parent_id
        if key not in ids:
            raise RuntimeError(f"stage {stage!r} returned record {o.id!r} that belongs to no input of its batch")
        grouped[key].append(o)
    missing = [k for k, v in grouped.items() if not v]
    if missing:
        raise RuntimeError(f"stage {stage!r} dropped records {missing[:5]}: return them, rejected if need be")
    return grouped


def run_stage(stage: type[Stage], config: StageConfig, ctx: StageContext, records: list[Record],
              executor: Executor, ledger: Ledger, progress: bool = True) -> tuple[list[Record], StageStats]:
    """Run one stage over ``records`` through the ledger; returns all records after the stage."""
    probe = stage(config, ctx)  # only for accepts(); setup() runs in the executor's workers
    todo = [r for r in records if probe.accepts(r)]
    done = ledger.load(stage.name, ctx.fingerprint)
    # stages update records in place: hand them copies so the caller's list stays as it was
    pending = [copy.deepcopy(r) for r in todo if r.id not in done]
    stats = StageStats(stage.name, ctx.fingerprint, reused=len(todo) - len(pending))
    t0 = time.perf_counter()
    if pending:
        with tqdm(total=len(pending), desc=stage.name, unit="rec", disable=not progress or None,
                  leave=False) as bar:
            for inputs, outputs in executor.map(stage, config, ctx, pending):
                finished = ledger.append(stage.name, ctx.fingerprint, group_outputs(inputs, outputs, stage.name))
                done.update(finished)
                stats.processed += len(inputs)
                stats.rejected += sum(not o.ok for outs in finished.values() for o in outs)
                bar.update(len(inputs))
    stats.seconds = time.perf_counter() - t0
    out: list[Record] = []
    for r in records:
        out.extend(done[r.id] if probe.accepts(r) else [r])
    return out, stats


def make_executor(cfg: BuildConfig) -> Executor:
    if cfg.executor == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address=cfg.ray_address, workers=cfg.workers)
    return LocalExecutor(cfg.workers)


def _record_times(out: Path, cfg: BuildConfig, stages: list[StageStats]) -> None:
    """Stage times for ``ditto-data plan --out``; never the reason a build fails."""
    try:
        timings.record(out, [{"stage": s.name, "config_hash": config_hash(cfg.stage_config(s.name)),
                              "backend": getattr(cfg.stage_config(s.name), "backend", None),
                              "processed": s.processed, "seconds": round(s.seconds, 3),
                              "gpus": get_stage(s.name).resources_for(cfg.stage_config(s.name)).gpus,
                              "executor": cfg.executor} for s in stages])
    except OSError as e:
        log.warning("could not record stage times in %s: %s", out, e)


def build(input_dir: str | Path, out_dir: str | Path, config: BuildConfig | str | Path | dict | None = None,
          progress: bool = True, executor: Executor | None = None) -> BuildResult:
    """Build a dataset from the videos under ``input_dir`` into ``out_dir``; resumable.

    Running it again on the same ``out_dir`` does no finished work twice; changing one stage's
    config reruns that stage and the ones after it.
    """
    cfg = config if isinstance(config, BuildConfig) else load_config(config)
    out = Path(out_dir)
    t0 = time.perf_counter()
    check_folders(input_dir, out)
    records = scan_inputs(input_dir)  # a missing or video-less input fails before anything is written
    out.mkdir(parents=True, exist_ok=True)
    # One build per output folder: a second one would sweep the first's temporary files away.
    with atomic.exclusive(layout.state_dir(out) / "build.lock", f"output folder {out}"):
        try:
            return _build_locked(records, out, cfg, progress, executor, t0)
        except (OSError, MemoryError) as e:  # raised outside any stage: still the machine's, not a bug
            raise_if_machine_fault(e, out)
            raise


def check_folders(input_dir: str | Path, out: Path) -> None:
    """Refuse an output folder that is a file, or that holds or is held by the input folder: every
    rerun would then take the dataset's own videos as new sources."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is an existing file, not a folder")
    inp = Path(input_dir).resolve()
    real_out = out.resolve()
    if real_out == inp or inp in real_out.parents or real_out in inp.parents:
        how = ("is the input folder" if real_out == inp else "is inside the input folder" if inp in real_out.parents
               else "holds the input folder")
        raise ValueError(f"the output folder {out} {how} {input_dir}: the dataset's own videos would be taken as "
                         f"new sources; choose an --out apart from the --input")


def _build_locked(records: list[Record], out: Path, cfg: BuildConfig, progress: bool,
                  executor: Executor | None, t0: float) -> BuildResult:
    swept = atomic.sweep_tmp(out)
    if swept:
        log.info("removed %d temporary files left by an interrupted run", swept)
    atomic.write_json(layout.state_dir(out) / "config.json", cfg.to_dict())

    ledger = Ledger(out)
    executor = executor or make_executor(cfg)
    result = BuildResult(out_dir=out, records=records)
    upstream = "inputs"
    chained = hasattr(executor, "map_chain")  # runs of per-record stages stream into each other
    try:
        for names in segments(cfg.active_stages(), chained):
            links = []
            for name in names:
                stage, scfg = get_stage(name), cfg.stage_config(name)
                chain = fingerprint(stage, scfg, upstream, cfg.seed)
                fp = chain
                if stage.batch_size is None:  # a global stage's output depends on the whole input set;
                    # the chain does not, so adding sources never redoes per-record work downstream
                    fp = content_id(chain, *sorted(r.id for r in records if r.ok))[:12]
                ctx = StageContext(out_dir=out, work_dir=layout.work_dir(out, name, fp), fingerprint=fp,
                                   config_hash=config_hash(scfg), seed=cfg.seed)
                links.append(Link(stage, scfg, ctx))
                upstream = chain
            if chained and links[0].stage.batch_size is not None:
                records, stats = run_chain(links, records, executor, progress)
            else:
                (link,) = links
                records, one = run_stage(link.stage, link.config, link.ctx, records, executor, ledger, progress)
                stats = [one]
            for s in stats:
                result.stages.append(s)
                log.info("%s: %d processed, %d reused, %d rejected in %.1fs", s.name, s.processed,
                         s.reused, s.rejected, s.seconds)
    finally:
        executor.close()
        _record_times(out, cfg, result.stages)  # a failed build's finished stages were measured too

    from ..exports import export_dataset

    result.records = records
    result.counts = export_dataset(out, records, cfg)
    atomic.write_json(layout.state_dir(out) / "records.json", [r.to_dict() for r in records])
    # a worker killed mid-write (a Ray actor of an earlier, killed driver) can leave a temporary
    # file after the sweep at start; every writer of this build has finished by now
    atomic.sweep_tmp(out)
    result.seconds = time.perf_counter() - t0
    return result
