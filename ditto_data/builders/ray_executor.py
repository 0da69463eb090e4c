"""The Ray executor: each link of a chain runs as a Ray Data actor pool sized by its stage's resources.

It implements ``chain.Executor`` as the local executor does; the build (``chain.run_chain``) stays
in charge of order, fingerprints, rows and stats, and this executor changes *where* and *when* each
link runs. ``map_chain`` is one Ray Data pipeline ``from_items -> map_batches(stage 1 actors) ->
map_batches(stage 2 actors) -> ...``, so a stage's finished rows stream into the next stage while it
is still working (``streams_chains``: the build hands it each run of consecutive per-record stages
as one chain; a global stage such as dedup is a chain of one link and one row, so one actor). A row
starts as one batch of the chain's first stage and may grow on the way (an instruction stage makes
a clip three records); each row carries its records grouped by the input they came from, plus each
stage's ``StageStats`` for the row. Each actor holds a ``ChainStep``: it loads its stage's ledger
once, reuses what is finished there, runs ``process`` on the rest in the stage's batches, and
appends those results to the ledger itself (atomic, content-named parts), so a killed driver loses
no finished batch of any stage. ``setup()`` waits for the first batch that needs it. Stages whose
single actors would not fit the cluster together are cut into consecutive parts that do
(``fit_links``): a part starts when the one before has finished.

Rows are one JSON string column, so Arrow never has to infer a schema for nested record dicts.
Fault tolerance is Ray Data's: actor pools restart dead actors and retry their tasks (its defaults
are ``max_restarts=-1`` and ``max_task_retries=-1``), so a worker killed mid-stage costs one row of
that stage redone, not the build. Artifacts and ledger parts are written by the workers: on a
multi-node cluster the output folder (and the input folder) must be on a file system every node
mounts at the same path.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Iterator
from typing import Any

from ..atomic import json_str
from ..schema import Record
from .batching import StageStats
from .chain import ChainStep, Group, Link
from .stage import Resources

log = logging.getLogger(__name__)

GROUPS_COLUMN = "groups"  # chain rows: JSON list of [input id, [record dicts it has become]]
STATS_COLUMN = "stats"  # chain rows: JSON list of each stage's StageStats for the row, as dicts


class _ChainActor:
    """One worker of one chain stage's pool: a ``ChainStep`` (its ledger loaded once) over rows."""

    def __init__(self, link: Link):
        self.step = ChainStep(link)

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        groups_out, stats_out = [], []
        for blob, stats_blob in zip(table.column(GROUPS_COLUMN).to_pylist(), table.column(STATS_COLUMN).to_pylist()):
            groups, stats = self.step(_load_groups(blob))
            groups_out.append(_dump_groups(groups))
            stats_out.append(json.dumps([*json.loads(stats_blob), dataclasses.asdict(stats)]))
        return pa.table({GROUPS_COLUMN: groups_out, STATS_COLUMN: stats_out})


def _dump_groups(groups: list[Group]) -> str:
    return json_str([[gid, [r.to_dict() for r in recs]] for gid, recs in groups])


def _load_groups(blob: str) -> list[Group]:
    return [(gid, [Record.from_dict(d) for d in recs]) for gid, recs in json.loads(blob)]


class RayExecutor:
    """Runs stages on a Ray cluster: ``address`` None starts a local one with ``workers`` CPUs.

    A Ray session already initialised in this process (a test fixture, a notebook) is used as it
    is and left running; one this executor started or connected to is shut down by ``close()``.
    """

    streams_chains = True  # consecutive per-record stages run at once, rows streaming between them

    def __init__(self, address: str | None = None, workers: int = 0):
        self.address = address
        self.workers = workers
        self._owned = False

    def _connect(self) -> None:
        import ray

        if ray.is_initialized():
            return
        if self.address is None:
            cpus = self.workers or os.cpu_count() or 1
            log.info("starting a local Ray cluster with %d CPUs", cpus)
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        else:
            log.info("connecting to the Ray cluster at %s", self.address)
            ray.init(address=self.address, log_to_driver=False)
        self._owned = True

    def map_chain(self, links: list[Link], rows: list[list[Record]]) -> Iterator[tuple[list[Group], list[StageStats]]]:
        """Stream rows through every link, each link an actor pool; yield each row as it leaves the last.

        Links whose one actor each would not fit the cluster together are cut into consecutive
        parts that do (``fit_links``); a part starts when the one before has finished.
        """
        if not rows:
            return
        self._connect()
        nodes = _nodes()
        parts = fit_links(links, nodes)
        blobs = [{GROUPS_COLUMN: _dump_groups([(r.id, [r]) for r in row]), STATS_COLUMN: "[]"} for row in rows]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            out = []
            for row in self._stream(part, blobs, nodes):
                if last:
                    groups = _load_groups(row[GROUPS_COLUMN])
                    yield groups, [StageStats(**d) for d in json.loads(row[STATS_COLUMN])]
                else:
                    out.append({GROUPS_COLUMN: row[GROUPS_COLUMN], STATS_COLUMN: row[STATS_COLUMN]})
            blobs = out

    def _stream(self, links: list[Link], blobs: list[dict[str, str]], nodes: list[dict[str, float]]) -> Iterator[dict]:
        import ray.data
        from ray.data import ActorPoolStrategy, DataContext

        DataContext.get_current().enable_progress_bars = False  # the runner shows its own bar
        ds = ray.data.from_items(blobs, override_num_blocks=len(blobs))
        for link in links:
            res = link.stage.resources_for(link.config)
            cpus, pool = actor_shape(link.stage.name, res, nodes, len(blobs))
            log.info("%s: %d row(s) on up to %d actor(s) of %g CPU / %g GPU", link.stage.name, len(blobs), pool,
                     cpus, res.gpus)
            ds = ds.map_batches(
                _ChainActor,
                fn_constructor_args=(link,),
                batch_size=1,  # one row is one batch of the chain's first stage
                batch_format="pyarrow",
                compute=ActorPoolStrategy(min_size=1, max_size=pool),
                num_cpus=cpus,
                num_gpus=res.gpus or None,
            )
        yield from ds.iter_rows()

    def close(self) -> None:
        if self._owned:
            import ray

            ray.shutdown()
            self._owned = False


def stage_resources(cfg: Any) -> list[dict[str, Any]]:
    """What one worker of each active stage of a build config asks of a Ray cluster.

    One dict per stage (``stage``, ``backend``, ``cpus``, ``gpus``, ``gpu_memory_gb``), from
    ``Stage.resources_for``: the numbers the executor turns into actor options.
    """
    from .stage import get_stage

    rows = []
    for name in cfg.active_stages():
        stage, scfg = get_stage(name), cfg.stage_config(name)
        res = stage.resources_for(scfg)
        rows.append({"stage": name, "backend": scfg.backend, "cpus": res.cpus, "gpus": res.gpus,
                     "gpu_memory_gb": res.gpu_memory_gb, "global": stage.is_global})
    return rows


def fit_links(links: list[Link], nodes: list[dict[str, float]]) -> list[list[Link]]:
    """Cut a chain into consecutive parts whose stages can each hold one actor at the same time.

    Ray Data starts at least one actor per stage of a pipeline; a part asking more CPUs or GPUs
    than the cluster has would wait forever. A stage too big for the cluster alone still gets
    its own part (``actor_shape`` lowers its CPUs or names the missing GPU).
    """
    total_cpu = sum(n.get("CPU", 0.0) for n in nodes)
    total_gpu = sum(n.get("GPU", 0.0) for n in nodes)
    parts: list[list[Link]] = []
    cpu = gpu = 0.0
    for link in links:
        res = link.stage.resources_for(link.config)
        if parts and cpu + res.cpus <= total_cpu and gpu + res.gpus <= total_gpu:
            parts[-1].append(link)
            cpu, gpu = cpu + res.cpus, gpu + res.gpus
        else:
            parts.append([link])
            cpu, gpu = res.cpus, res.gpus
    return parts


def _nodes() -> list[dict[str, float]]:
    """Resources of each alive node of the connected cluster."""
    import ray

    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]


def actor_shape(stage: str, res: Resources, nodes: list[dict[str, float]], n_batches: int) -> tuple[float, int]:
    """(CPUs per actor, largest pool) for a stage on a cluster with these nodes.

    A CPU request larger than any node is lowered to the largest node (the stage still runs,
    with fewer cores than it asked for); a GPU request no node can meet is an error, since Ray
    would otherwise wait for a GPU forever.
    """
    biggest = max((n.get("CPU", 0.0) for n in nodes), default=0.0)
    cpus = min(res.cpus, biggest) if biggest else res.cpus
    if cpus < res.cpus:
        log.warning("%s asks for %g CPUs per worker; the largest Ray node has %g: using that",
                    stage, res.cpus, biggest)
    slots = 0
    for n in nodes:
        fit = math.floor(n.get("CPU", 0.0) / cpus) if cpus > 0 else n_batches
        if res.gpus > 0:
            fit = min(fit, math.floor(n.get("GPU", 0.0) / res.gpus))
        slots += max(fit, 0)
    if slots == 0:
        have = sum(n.get("GPU", 0.0) for n in nodes)
        raise RuntimeError(f"stage {stage!r} needs {res.gpus:g} GPU(s) and {cpus:g} CPU(s) per worker; "
                           f"no node of the Ray cluster has them (GPUs in the cluster: {have:g})")
    return cpus, max(1, min(slots, n_batches))
