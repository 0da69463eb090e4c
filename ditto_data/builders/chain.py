"""The one way a build runs its stages: chains of links through the ledger, on an executor.

The build cuts its pipeline into *chains* (``segments``): a global stage (``is_global``) is a chain
of its own; consecutive per-record stages form one chain when the executor streams
(``Executor.streams_chains``, Ray), else each is a chain of one (the local executor: a stage
finishes before the next starts). A per-record stage's output for one record depends on that
record alone, so each input record becomes a *group* (its id and what it has become so far) that
flows through the chain's links.

:func:`run_chain` settles, from the ledgers alone, every record whose whole chain is finished, cuts
the rest into *rows* (batches of the chain's first stage; for a global stage, one row of every
record) and hands them to ``executor.map_chain``. Wherever the executor runs a row, each link is a
:class:`ChainStep`, the only reader and writer of the ledger: it loads its stage's ledger once,
takes from it what is already finished, runs ``process`` on the rest in the stage's batches and
appends each batch to the ledger before going on, so a killed build loses no finished batch of any
stage. Output order: input order, children after their parent; statistics: one
:class:`~.batching.StageStats` per stage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from tqdm.auto import tqdm

from ..schema import Record
from .batching import StageStats, batches, group_outputs
from .ledger import Ledger
from .stage import Stage, StageConfig, StageContext, get_stage

log = logging.getLogger(__name__)

Group = tuple[str, list[Record]]  # an input record's id, and the records it has become so far


@dataclass
class Link:
    """One stage of a chain: its config, its build context (fingerprint, work dir) and its ledger."""

    stage: type[Stage]
    config: StageConfig
    ctx: StageContext
    ledger: Ledger


class Executor(Protocol):
    """Where the links of a chain run: ``runner.LocalExecutor`` (threads), ``ray_executor.RayExecutor``."""

    #: True: consecutive per-record stages come as one chain and stream into each other;
    #: False: every stage comes as a chain of its own, after the one before has finished.
    streams_chains: bool

    def map_chain(self, links: list[Link], rows: list[list[Record]]) -> Iterator[tuple[list[Group], list[StageStats]]]:
        """Run each row (a list of input records) through every link, each link a :class:`ChainStep`;
        yield each finished row as its groups, with what every link did to it, in any order."""
        ...

    def close(self) -> None:
        """Release what the executor started (a Ray cluster); the build calls it once, at its end."""
        ...


def segments(names: list[str], chained: bool) -> list[list[str]]:
    """Cut a pipeline into runs: consecutive per-record stages together when ``chained``."""
    out: list[list[str]] = []
    for name in names:
        per_record = not get_stage(name).is_global
        if chained and per_record and out and not get_stage(out[-1][-1]).is_global:
            out[-1].append(name)
        else:
            out.append([name])
    return out


class ChainStep:
    """One stage applied to groups: ledger first, then ``process`` in the stage's batches.

    Built once per worker (a Ray actor), or once per stage and shared by threads (the local
    executor): ``setup()`` (model loading) runs once, under a lock, and waits for the first batch
    that needs it, so a resumed build whose ledger already holds a stage's work loads no model for
    it. Ledger parts are content-named files written atomically, so threads may append at once.
    """

    def __init__(self, link: Link):
        self.link = link
        self.name = link.stage.name
        self.stage = link.stage(link.config, link.ctx)
        self.ledger = link.ledger
        self.done = self.ledger.load(self.name, link.ctx.fingerprint)
        self._ready = False
        self._setup_lock = threading.Lock()

    def _setup(self) -> None:
        with self._setup_lock:
            if not self._ready:
                self.stage.setup()
                self._ready = True

    def pending(self, records: list[Record]) -> list[Record]:
        return [r for r in records if self.stage.accepts(r) and r.id not in self.done]

    def __call__(self, groups: list[Group]) -> tuple[list[Group], StageStats]:
        """Apply the stage to every group, appending what it processes to the ledger; returns the
        groups as they leave the stage, and what the stage did to them."""
        accepted = [r for _, recs in groups for r in recs if self.stage.accepts(r)]
        todo = self.pending(accepted)
        stats = StageStats(self.name, self.link.ctx.fingerprint, reused=len(accepted) - len(todo))
        fresh: dict[str, list[Record]] = {}
        if todo and not self._ready:
            self._setup()
        for batch in batches(todo, self.link.stage):
            outputs = self.stage.process(batch)
            finished = self.ledger.append(self.name, self.link.ctx.fingerprint,
                                          group_outputs(batch, outputs, self.name))
            fresh.update(finished)
            stats.processed += len(batch)
            stats.rejected += sum(not o.ok for outs in finished.values() for o in outs)
        done = {**self.done, **fresh} if fresh else self.done
        # by the ids taken before process(), which may have changed (rejected) its records in place:
        # what leaves the stage is the ledger's copy of a record it took, the record itself otherwise
        taken = {r.id for r in accepted}
        return [(gid, [o for r in recs for o in (done[r.id] if r.id in taken else [r])])
                for gid, recs in groups], stats


def run_chain(links: list[Link], records: list[Record], executor: Executor,
              progress: bool = True) -> tuple[list[Record], list[StageStats]]:
    """Run a chain over ``records``: per-record stages, or one global stage alone. Returns all
    records after it (input order, children after their parent) and each stage's stats.

    Each stage's ``seconds`` is the chain's wall time (a streaming executor runs its stages at once).
    """
    t0 = time.perf_counter()
    steps = [ChainStep(link) for link in links]  # on the driver: ledger reads only, never setup()
    stats = {s.name: StageStats(s.name, s.link.ctx.fingerprint) for s in steps}
    final: dict[str, list[Record]] = {}
    unsettled: list[Record] = []
    for r in records:  # settle from the ledgers what needs no work at all
        group, trial = [(r.id, [r])], []
        for step in steps:
            if step.pending(group[0][1]):
                unsettled.append(r)  # its whole chain runs on the executor, which counts it there
                break
            group, one = step(group)
            trial.append(one)
        else:
            final[r.id] = group[0][1]
            for one in trial:
                stats[one.name].add(one)
    if unsettled:
        first = steps[0]
        head = first.pending(unsettled)  # rows: the first stage's batches (one row for a global stage)
        heads = {r.id for r in head}
        rest = [r for r in unsettled if r.id not in heads]
        rows = batches(head, first.link.stage) + batches(rest, first.link.stage)
        log.info("chain %s: %d record(s) in %d row(s), %d settled from the ledger",
                 " -> ".join(s.name for s in steps), len(unsettled), len(rows), len(final))
        with tqdm(total=len(unsettled), desc=" > ".join(s.name for s in steps), unit="rec",
                  disable=not progress or None, leave=False) as bar:
            for groups, row_stats in executor.map_chain(links, rows):
                for gid, recs in groups:
                    final[gid] = recs
                for one in row_stats:
                    stats[one.name].add(one)
                bar.update(len(groups))
        lost = [r.id for r in unsettled if r.id not in final]
        if lost:
            raise RuntimeError(f"chain {[s.name for s in steps]} returned nothing for records {lost[:5]}")
    seconds = time.perf_counter() - t0
    for s in stats.values():
        s.seconds = seconds
    return [o for r in records for o in final[r.id]], list(stats.values())
