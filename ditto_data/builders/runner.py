"""Running a stage through the ledger on an executor (the build itself is ``ditto_data.pipeline``).

For each stage in the config's pipeline the build computes a chained fingerprint; ``run_stage`` loads
what the ledger already holds for it, hands the rest to an executor in batches, and appends each
finished batch to the ledger before going on. Executors differ only in *where* ``process`` runs: ``local``
uses a thread pool in this process, ``ray`` uses Ray Data actor pools (``ray_executor.py``). An
executor with ``map_chain`` (Ray) gets each run of consecutive per-record stages at once and
streams them into each other (``chain.py``); global stages always run alone.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Protocol

from tqdm.auto import tqdm

from ..schema import Record
from .batching import StageStats, batches, group_outputs
from .config import BuildConfig
from .ledger import Ledger
from .stage import Stage, StageConfig, StageContext

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs a stage's ``process`` over records; yields (inputs, outputs) per finished batch."""

    def map(self, stage: type[Stage], config: StageConfig, ctx: StageContext,
            records: list[Record]) -> Iterator[tuple[list[Record], list[Record]]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Threads in this process: FFmpeg, OpenCV, faiss and torch release the GIL where it matters."""

    def __init__(self, workers: int = 0):
        self.workers = workers or os.cpu_count() or 1

    def map(self, stage, config, ctx, records):
        res = stage.resources_for(config)
        threads = 1 if res.gpus > 0 or stage.is_global else max(1, int(self.workers / max(res.cpus, 1.0)))
        instance = stage(config, ctx)
        instance.setup()
        todo = batches(records, stage)
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


