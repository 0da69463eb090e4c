"""Loading Ditto-style datasets: ``load`` (``datasets`` objects), aligned clip datasets for PyTorch,
streaming with resume, WebDataset shards and the modality curriculum.

Names are imported lazily, so ``import ditto_data.loaders`` does not pull in torch or datasets.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load": ".hf",
    "resolve_root": ".resolve",
    "DatasetReadError": "..dataset.tree",
    "read_triplets": "..dataset.tree",
    "read_sources": "..dataset.tree",
    "list_configs": "..dataset.tree",
    "ClipSampler": ".sampling",
    "ClipTooShort": ".sampling",
    "resize_crop": ".sampling",
    "ModalityCurriculum": ".curriculum",
    "SampleReader": ".decode",
    "UnreadableSample": ".decode",
    "TripletClipDataset": ".clip_dataset",
    "diffsynth": ".clip_dataset",
    "StreamingTripletDataset": ".streaming",
    "StatefulLoader": ".streaming",
    "expand_urls": ".wds",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
