"""The local executor, the executor a config names, and ``run_stage`` (one stage alone).

Every build runs its stages one way, ``chain.run_chain`` (chains of links through the ledger); an
executor only decides *where* each row of a chain runs. :class:`LocalExecutor` runs rows on a
thread pool in this process and gets one stage at a time (it does not stream chains); the Ray
executor (``ray_executor.py``) runs each link as an actor pool and streams a chain's stages into
each other. :func:`run_stage` is a chain of one link, for callers that hold a single stage.
"""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ..schema import Record
from .batching import StageStats
from .chain import ChainStep, Executor, Group, Link, run_chain
from .config import BuildConfig
from .ledger import Ledger
from .stage import Stage, StageConfig, StageContext


class LocalExecutor:
    """Threads in this process: FFmpeg, OpenCV, faiss and torch release the GIL where it matters.

    Each row goes through every link in turn, on one thread; the links' ``ChainStep``s are shared by
    the threads. A stage with a GPU, and a global stage (one row), runs on one thread.
    """

    streams_chains = False  # one stage at a time: a stage finishes before the next starts

    def __init__(self, workers: int = 0):
        self.workers = workers or os.cpu_count() or 1

    def _threads(self, link: Link) -> int:
        res = link.stage.resources_for(link.config)
        if res.gpus > 0 or link.stage.is_global:
            return 1
        return max(1, int(self.workers / max(res.cpus, 1.0)))

    def map_chain(self, links: list[Link], rows: list[list[Record]]) -> Iterator[tuple[list[Group], list[StageStats]]]:
        if not rows:
            return
        steps = [ChainStep(link) for link in links]

        def run(row: list[Record]) -> tuple[list[Group], list[StageStats]]:
            # stages update records in place: hand them copies so the caller's records stay as they were
            groups = [(r.id, [copy.deepcopy(r)]) for r in row]
            stats = []
            for step in steps:
                groups, one = step(groups)
                stats.append(one)
            return groups, stats

        threads = min(self._threads(link) for link in links)
        if threads == 1:
            for row in rows:
                yield run(row)
            return
        with ThreadPoolExecutor(threads, thread_name_prefix="+".join(s.name for s in steps)) as pool:
            todo = iter(rows)  # a bounded number of rows in flight
            running = {pool.submit(run, row) for row in itertools.islice(todo, 2 * threads)}
            try:
                while running:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        yield fut.result()
                        running |= {pool.submit(run, row) for row in itertools.islice(todo, 1)}
            finally:  # an error or an interrupt: start no more rows (those running finish)
                for fut in running:
                    fut.cancel()

    def close(self) -> None:
        pass


def run_stage(stage: type[Stage], config: StageConfig, ctx: StageContext, records: list[Record],
              executor: Executor, ledger: Ledger, progress: bool = True) -> tuple[list[Record], StageStats]:
    """Run one stage over ``records`` through ``ledger``: a chain of one link. Returns all records
    after the stage, and its stats."""
    out, (stats,) = run_chain([Link(stage, config, ctx, ledger)], records, executor, progress)
    return out, stats


def make_executor(cfg: BuildConfig) -> Executor:
    if cfg.executor == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address=cfg.ray_address, workers=cfg.workers)
    return LocalExecutor(cfg.workers)
