"""The whole build, on top of everything: scan the sources -> run the pipeline's stages (through
the ledger, on the configured executor) -> export the dataset and its card -> write the records.

``builders/`` below holds the contract, config, ledger and executors and imports nothing above it;
this module is where they meet the exports.

    from ditto_data import build, load_config
    result = build("raw/", "out/", load_config("build.yaml"))
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import atomic, layout
from .builders import timings
from .builders.batching import StageStats
from .builders.chain import Executor, Link, run_chain, segments
from .builders.config import BuildConfig, load_config
from .builders.ledger import Ledger
from .builders.runner import make_executor
from .builders.sources import scan_inputs
from .builders.stage import StageContext, config_hash, fingerprint, get_stage
from .exports import export_dataset
from .faults import raise_if_machine_fault
from .schema import Record, content_id

log = logging.getLogger(__name__)


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
    try:
        for names in segments(cfg.active_stages(), executor.streams_chains):
            links = []
            for name in names:
                stage, scfg = get_stage(name), cfg.stage_config(name)
                chain = fingerprint(stage, scfg, upstream, cfg.seed)
                fp = chain
                if stage.is_global:  # a global stage's output depends on the whole input set;
                    # the chain does not, so adding sources never redoes per-record work downstream
                    fp = content_id(chain, *sorted(r.id for r in records if r.ok))[:12]
                ctx = StageContext(out_dir=out, work_dir=layout.work_dir(out, name, fp), fingerprint=fp,
                                   config_hash=config_hash(scfg), seed=cfg.seed)
                links.append(Link(stage, scfg, ctx, ledger))
                upstream = chain
            records, stats = run_chain(links, records, executor, progress)
            for s in stats:
                result.stages.append(s)
                log.info("%s: %d processed, %d reused, %d rejected in %.1fs", s.name, s.processed,
                         s.reused, s.rejected, s.seconds)
    finally:
        executor.close()
        _record_times(out, cfg, result.stages)  # a failed build's finished stages were measured too

    result.records = records
    result.counts = export_dataset(out, records, cfg)
    atomic.write_json(layout.state_dir(out) / "records.json", [r.to_dict() for r in records])
    # a worker killed mid-write (a Ray actor of an earlier, killed driver) can leave a temporary
    # file after the sweep at start; every writer of this build has finished by now
    atomic.sweep_tmp(out)
    result.seconds = time.perf_counter() - t0
    return result
