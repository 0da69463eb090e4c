"""Export: the build's final records -> the published dataset (Ditto-1M tree, HF data files, card).

``export_dataset`` runs at the end of every build and is idempotent: it rewrites every file from
the records (hard links for videos, atomic writes for metadata), removes what an earlier export
left that is no longer part of the dataset, and renders the card. Killed at any moment and run
again, it ends with exactly the files an uninterrupted run gives.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .. import layout
from ..schema import Record
from .ditto_tree import write_captions, write_diffsynth_csvs, write_training_metadata, write_videos
from .facts import FactsCache
from .hf import write_hf_metadata
from .plan import ExportPlan, plan_export
from .stale import remove_stale

if TYPE_CHECKING:
    from ..builders.config import BuildConfig, ExportConfig

log = logging.getLogger(__name__)

__all__ = ["ExportPlan", "export_dataset", "plan_export"]


def export_dataset(out_dir: str | Path, records: list[Record], cfg: BuildConfig | ExportConfig | None = None,
                   progress: bool = True) -> dict[str, int]:
    """Write the dataset under ``out_dir`` from ``records``; returns config name -> rows written.

    Edits that cannot be published (see :mod:`.plan`) are rejected in ``records`` by stage
    ``export`` with a reason, so the build summary and the card count them.
    """
    from ..builders.config import ExportConfig
    from ..cards import write_card

    ecfg = getattr(cfg, "export", cfg) or ExportConfig()
    root = Path(out_dir)
    facts = FactsCache(root)
    plan = plan_export(root, records, ecfg.shard_size, ecfg.keep_reference_image, facts)
    facts.save()

    written = write_videos(root, plan, progress)
    written |= write_training_metadata(root, plan)
    written |= write_captions(root, plan)
    written |= write_diffsynth_csvs(root, plan, ecfg.keep_reference_image)
    written |= write_hf_metadata(root, plan)
    remove_stale(root, written | {layout.TEASER})
    write_card(root, records, license=ecfg.license)
    counts = plan.counts()
    log.info("exported %s", ", ".join(f"{k}: {v}" for k, v in counts.items()) or "nothing")
    return counts
