"""A map-style PyTorch dataset of aligned triplet clips, and the DiffSynth-Studio preset.

``dataset[i]`` is deterministic for a given ``seed``, epoch and ``i`` (the same clip whatever
worker reads it). A sample that cannot be read is skipped with one warning naming the file and
counted in ``dataset.skipped``; the next readable sample is returned instead, so a training loop
never crashes on bad data. Each bad file is tried once per process, so this always terminates.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .curriculum import ModalityCurriculum
from .decode import SampleReader, TrainingKnobs, UnreadableSample
from .sampling import ClipSampler
from ..dataset.tree import DatasetReadError


def _rows(source: str | Path | list[dict[str, Any]], config: str | None, description=None) -> list[dict[str, Any]]:
    if isinstance(source, (str, Path)):
        from .described import read_rows

        root, _, config, rows = read_rows(source, config, description)
        where = f"{root} ({config})"
    else:
        rows, where = list(source), "the given rows"
    if not rows:
        raise DatasetReadError(f"{where}: no triplet with both videos present; nothing to load")
    return rows


class TripletClipDataset(TrainingKnobs, torch.utils.data.Dataset):
    """Aligned clips of (source, edited[, depth][, reference]) with instruction, caption and ids.

    ``source``: a dataset folder (ours, a Ditto-1M download or any dataset ``description`` covers, see
    :func:`ditto_data.load`), a Hub repo id, or rows from :func:`ditto_data.loaders.described.read_rows`. Sampling: ``sampler`` (a :class:`ClipSampler`)
    or ``num_frames``/``stride``/``fps``/``start``. ``size=(h, w)`` (multiples of 16) resizes to cover
    and crops (``crop="center"|"random"``). ``reference``: ``"always"``, ``"never"`` or, with a
    ``curriculum``, decided per sample at the step given by :meth:`set_step`.

    Workers stay in sync with the training loop's step because ``set_step`` writes a shared
    ``multiprocessing.Value`` the workers read (samples already prefetched keep their old step).
    """

    def __init__(self, source: str | Path | list[dict[str, Any]], config: str | None = None, *,
                 sampler: ClipSampler | None = None, num_frames: int = 17, stride: int = 1,
                 fps: float | None = None, start: str = "random", size: tuple[int, int] | None = None,
                 crop: str = "center", dtype: str = "uint8", reference: str | None = None,
                 curriculum: ModalityCurriculum | None = None, depth: bool = True, seed: int = 0,
                 parallel_decode: bool | None = None, description=None):
        self.rows = _rows(source, config, description)
        self.seed = seed
        sampler = sampler or ClipSampler(num_frames=num_frames, stride=stride, fps=fps, start=start, seed=seed)
        self.reader = SampleReader(sampler, size=size, crop=crop, dtype=dtype, reference=reference,
                                   curriculum=curriculum, depth=depth, parallel=parallel_decode)
        self._init_knobs()
        self._epoch = mp.Value("q", 0, lock=False)
        self._bad_rows: set[int] = set()
        self._bad_files: set[str] = set()

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        """Changes the random starts/crops/curriculum draws of the next reads."""
        self._epoch.value = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(self._epoch.value), index])

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self.rows)
        if not -n <= index < n:
            raise IndexError(index)
        index %= n
        for k in range(n):
            j = (index + k) % n
            row = self.rows[j]
            if j in self._bad_rows:  # already warned about: count the skip, quietly
                self._skips.count()
                continue
            bad = next((f for f in (row["source_video"], row["edited_video"]) if f in self._bad_files), None)
            if bad is not None:
                self._bad_rows.add(j)
                self._skips(UnreadableSample(bad, "unreadable (seen before)"), bad)
                continue
            try:
                return self.reader.read(row, self.rng(j), int(self._step.value))
            except UnreadableSample as e:
                self._bad_rows.add(j)
                if e.file in (row["source_video"], row["edited_video"]):
                    self._bad_files.add(e.file)
                self._skips(e, e.file)
        raise DatasetReadError(f"none of the {n} samples could be read ({self.skipped} skipped); "
                               "see the warnings above for the files and why")


def diffsynth(source: str | Path | list[dict[str, Any]], config: str | None = None, *,
              num_frames: int = 81, height: int = 480, width: int = 832, **kw: Any) -> TripletClipDataset:
    """DiffSynth-Studio's sampling: the first ``num_frames`` (4k+1) frames, no stride, resized to
    cover ``height`` x ``width`` and centre-cropped, pixels in [-1, 1]."""
    kw.setdefault("dtype", "float")
    return TripletClipDataset(source, config, sampler=ClipSampler.diffsynth(num_frames),
                              size=(height, width), crop="center", **kw)
