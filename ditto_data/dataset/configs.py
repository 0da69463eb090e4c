"""The configs a dataset offers on the Hub: the README ``configs:`` entries, from rows per config.

A config with WebDataset shards for the Hub reads them; the others read the videofolder metadata
(:mod:`ditto_data.exports.hf` writes it) and the loose videos.
"""

from __future__ import annotations

from typing import Any

from .. import layout
from ..schema import SIM2REAL, SIM2REAL_FROM, SOURCE, ordered_categories
from .shards import hub_pattern

SPLIT = "train"


def hf_configs(counts: dict[str, int], shards: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """The README ``configs:`` entries for the configs with rows.

    A config with WebDataset shards for the Hub (``shards``: config -> shard paths, from
    ``ditto-data pack``) reads them: the ``datasets`` webdataset builder makes a ``Video`` column of
    each ``.mp4`` member, in both loading modes, with no extraction step. Others read the videofolder
    metadata and the loose videos, which works on a local folder. The default (what
    ``load_dataset(OUT)`` loads) is the triplet config with the most rows.
    """
    shards = shards or {}
    v = layout.VIDEOS
    meta_edit = f"{v}/{layout.HF_METADATA}"
    meta_src = f"{v}/{SOURCE}/{layout.HF_METADATA}"
    configs: list[dict[str, Any]] = []
    for cat in ordered_categories(counts):
        if not counts.get(cat):
            continue
        if shards.get(cat):
            configs.append({"config_name": cat, "data_files": [{"split": SPLIT, "path": hub_pattern(shards[cat])}]})
            continue
        folders = [f"{v}/{SOURCE}/*/*.mp4", f"{v}/{SIM2REAL_FROM if cat == SIM2REAL else cat}/*/*.mp4"]
        configs.append({
            "config_name": cat,
            "data_files": [{"split": SPLIT, "path": [meta_edit, *folders]}],
            "filters": [["category", "==", cat]],
        })  # fmt: skip
    if counts.get(SOURCE):
        path = hub_pattern(shards[SOURCE]) if shards.get(SOURCE) else [meta_src, f"{v}/{SOURCE}/*/*.mp4"]
        configs.append({"config_name": SOURCE, "data_files": [{"split": SPLIT, "path": path}]})
    if configs:
        i = max(range(len(configs)), key=lambda j: (configs[j]["config_name"] not in (SOURCE, SIM2REAL),
                                                    counts[configs[j]["config_name"]], -j))
        configs[i] = {"config_name": configs[i]["config_name"], "default": True,
                      **{k: val for k, val in configs[i].items() if k != "config_name"}}
    return configs
