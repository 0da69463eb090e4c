"""Streaming triplet clips: an ``IterableDataset`` that splits by rank and worker, shuffles, resumes.

Each epoch, the items (metadata rows, or WebDataset shards) are put in a seeded order, split by
node rank, then by DataLoader worker, so no sample is seen twice in an epoch. Each (rank, worker)
slot passes its items through a seeded shuffle buffer and gives every item a position. The stream
up to decoding is cheap and deterministic, so resuming replays it and decodes only the positions
not yet consumed.

Resuming mid-epoch: every sample carries ``_worker``, ``_num_workers``, ``_pos`` and ``_epoch``.
The main process records, per worker, how far the batches it actually received reach
(:meth:`StreamingTripletDataset.observe`, done for you by :class:`StatefulLoader`), so
``state_dict()`` excludes samples prefetched by workers but not yet used.

The dataset also follows torchdata's ``Stateful`` protocol, so ``StatefulDataLoader`` resumes it
too: inside a worker, ``state_dict()`` is that worker's own progress (``consumed`` holds only its
id), which the loader snapshots with every batch the worker sends and, on resume, hands back to
the same worker's ``load_state_dict`` before the iterator is made. The loader keeps the snapshot
of the last batch it yielded, so prefetched batches are not counted either.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .curriculum import ModalityCurriculum
from .decode import SampleReader, TrainingKnobs, UnreadableSample
from .sampling import ClipSampler
from ..dataset.tree import DatasetReadError
from .wds import expand_urls, is_webdataset, iter_shard, row_of

log = logging.getLogger(__name__)

TAGS = ("_worker", "_num_workers", "_pos", "_epoch")


def dist_info(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """(rank, world_size) given, else from torch.distributed, else from RANK/WORLD_SIZE, else (0, 1)."""
    if rank is not None and world_size is not None:
        r, w = rank, world_size
    elif torch.distributed.is_available() and torch.distributed.is_initialized():
        r, w = torch.distributed.get_rank(), torch.distributed.get_world_size()
    else:
        r, w = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if not 0 <= r < w:
        raise ValueError(f"rank {r} is not in [0, world_size={w})")
    return r, w


def shuffle_buffer(items: Iterable[Any], size: int, rng: np.random.Generator) -> Iterator[Any]:
    """Classic bounded shuffle: keep ``size`` items, emit a random one as each new one arrives."""
    if size <= 1:
        yield from items
        return
    buf: list[Any] = []
    for it in items:
        if len(buf) < size:
            buf.append(it)
            continue
        j = int(rng.integers(len(buf)))
        buf[j], it = it, buf[j]
        yield it
    while buf:
        yield buf.pop(int(rng.integers(len(buf))))


STOPS = ("first_exhausted", "all_exhausted")


def weighted_order(sizes: list[int], weights: list[float], rng: np.random.Generator, shuffle: bool = True,
                   stop: str = "first_exhausted") -> list[int]:
    """Indices into the concatenation of groups of ``sizes``: each next item comes from group ``i``
    with probability proportional to ``weights[i]`` (among groups not yet exhausted), in a random
    (or the given) order within each group. ``first_exhausted`` ends when one group runs out, so
    the proportions hold over the whole stream (as ``datasets.interleave_datasets``); with
    ``all_exhausted`` every item is used once and the tail holds the larger groups' remainder."""
    if len(sizes) != len(weights) or not sizes:
        raise ValueError(f"one weight per dataset: {len(sizes)} datasets, {len(weights)} weights")
    if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
        raise ValueError(f"weights must be >= 0 with one > 0, got {weights}")
    if stop not in STOPS:
        raise ValueError(f"stop must be one of {STOPS}, got {stop!r}")
    offsets = np.cumsum([0, *sizes]).tolist()
    orders = [(rng.permutation(n) if shuffle else np.arange(n)).tolist() for n in sizes]
    pos = [0] * len(sizes)
    live = [i for i, (n, w) in enumerate(zip(sizes, weights)) if n > 0 and w > 0]
    out: list[int] = []
    while live:
        w = np.array([weights[i] for i in live], dtype=float)
        g = live[int(rng.choice(len(live), p=w / w.sum()))]
        out.append(offsets[g] + orders[g][pos[g]])
        pos[g] += 1
        if pos[g] == sizes[g]:
            if stop == "first_exhausted":
                break
            live.remove(g)
    return out


class StreamingTripletDataset(TrainingKnobs, IterableDataset):
    """Aligned triplet clips, streamed. ``source``: a dataset folder or Hub repo id (with ``config``),
    rows from :func:`~ditto_data.dataset.tree.read_triplets`, or WebDataset shards (a folder, URL,
    brace pattern or list of ``.tar`` URLs; any fsspec URL).

    Sampling/resizing/reference options are those of :class:`~ditto_data.loaders.TripletClipDataset`.
    ``shuffle`` orders items per epoch from ``seed`` (call :meth:`set_epoch`), ``buffer_size`` is the
    shuffle buffer per worker (it holds rows, or the mp4 bytes of WebDataset samples).
    """

    def __init__(self, source: Any, config: str | None = None, *, shuffle: bool = True,
                 buffer_size: int = 64, seed: int = 0, rank: int | None = None, world_size: int | None = None,
                 sampler: ClipSampler | None = None, num_frames: int = 17, stride: int = 1,
                 fps: float | None = None, start: str = "random", size: tuple[int, int] | None = None,
                 crop: str = "center", dtype: str = "uint8", reference: str | None = None,
                 curriculum: ModalityCurriculum | None = None, depth: bool = True,
                 parallel_decode: bool | None = None, description=None):

        self.rank, self.world_size = dist_info(rank, world_size)
        self._mix: tuple[list[int], list[float], str] | None = None  # set by mixture()
        self.shuffle, self.buffer_size, self.seed = shuffle, buffer_size, seed
        if is_webdataset(source):
            self.shards: list[str] | None = expand_urls(source)
            self.rows: list[dict[str, Any]] | None = None
        else:
            from .clip_dataset import _rows

            self.rows, self.shards = _rows(source, config, description), None
        sampler = sampler or ClipSampler(num_frames=num_frames, stride=stride, fps=fps, start=start, seed=seed)
        self.reader = SampleReader(sampler, size=size, crop=crop, dtype=dtype, reference=reference,
                                   curriculum=curriculum, depth=depth, parallel=parallel_decode)
        self._init_knobs()
        self.epoch = 0
        self._resume: dict[int, int] = {}  # worker -> positions to skip (set by load_state_dict)
        self._consumed: dict[int, int] = {}  # worker -> positions consumed (main process view)
        self._num_workers: int | None = None

    @classmethod
    def mixture(cls, sources: list[Any], weights: list[float], *, configs: list[str | None] | None = None,
                descriptions: list[Any] | None = None, stop: str = "first_exhausted",
                **kw: Any) -> StreamingTripletDataset:
        """One training stream over several datasets (any described ones), drawn by ``weights``.

        Each epoch's order is a seeded weighted interleave (:func:`weighted_order`) of the datasets'
        rows, then split by rank and worker as usual, so resuming works unchanged. Every sample
        keeps its ``dataset`` of origin. Keyword arguments are those of the constructor.
        """
        from .clip_dataset import _rows

        n = len(sources)
        configs, descriptions = configs or [None] * n, descriptions or [None] * n
        if not (len(configs) == len(descriptions) == n == len(weights)):
            raise ValueError("one config, description and weight per source")
        parts = [_rows(s, c, d) for s, c, d in zip(sources, configs, descriptions)]
        ds = cls([r for rows in parts for r in rows], **kw)
        weighted_order([len(p) for p in parts], list(weights), np.random.default_rng(0), stop=stop)  # validate
        ds._mix = ([len(p) for p in parts], [float(w) for w in weights], stop)
        return ds

    # -- knobs the training loop turns ------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` from its beginning (clears any resume state)."""
        self.epoch, self._resume, self._consumed = int(epoch), {}, {}

    # -- resumable state ---------------------------------------------------------------------------
    def observe(self, batch: dict[str, Any]) -> None:
        """Record that the main process received ``batch`` (a sample or a collated batch)."""
        if "_pos" not in batch:
            return
        w, nw, pos, ep = (torch.as_tensor(batch[t]).reshape(-1).tolist() for t in TAGS)
        for wi, n, p, e in zip(w, nw, pos, ep):
            if e != self.epoch:
                continue
            self._num_workers = n
            self._consumed[wi] = max(self._consumed.get(wi, 0), p + 1)

    def state_dict(self) -> dict[str, Any]:
        consumed = {**self._resume, **{w: max(n, self._resume.get(w, 0)) for w, n in self._consumed.items()}}
        return {"epoch": self.epoch, "seed": self.seed, "rank": self.rank, "world_size": self.world_size,
                "num_workers": self._num_workers, "consumed": {str(k): v for k, v in sorted(consumed.items())}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume: the next iteration yields exactly the samples of ``state``'s epoch not yet consumed.

        Load it before creating the DataLoader iterator (workers copy the dataset when they start;
        do not use ``persistent_workers`` across a resume), with the same seed, world size and
        ``num_workers``.
        """
        if (state["seed"], state["world_size"], state["rank"]) != (self.seed, self.world_size, self.rank):
            raise ValueError(f"state is for seed/world_size/rank {state['seed']}/{state['world_size']}/"
                             f"{state['rank']}, this dataset has {self.seed}/{self.world_size}/{self.rank}")
        self.epoch = int(state["epoch"])
        self._resume = {int(k): int(v) for k, v in state["consumed"].items()}
        self._consumed = dict(self._resume)
        self._num_workers = state.get("num_workers")

    # -- iteration ---------------------------------------------------------------------------------
    def _order(self, n: int, salt: int) -> list[int]:
        if self._mix is not None and salt == 0:
            sizes, weights, stop = self._mix
            return weighted_order(sizes, weights, np.random.default_rng([self.seed, self.epoch, salt]),
                                  shuffle=self.shuffle, stop=stop)
        if not self.shuffle:
            return list(range(n))
        return np.random.default_rng([self.seed, self.epoch, salt]).permutation(n).tolist()

    def _items(self, worker: int, num_workers: int) -> Iterator[tuple[str, Any]]:
        """(key, row-or-members) of this (rank, worker) slot, before the shuffle buffer."""
        slots, slot = self.world_size * num_workers, self.rank * num_workers + worker
        if self.rows is not None:
            mine = self._order(len(self.rows), 0)[self.rank::self.world_size][worker::num_workers]
            for i in mine:
                yield self.rows[i]["id"], self.rows[i]
            return
        order = [self.shards[i] for i in self._order(len(self.shards), 1)]
        if len(order) >= slots:  # whole shards per slot
            for url in order[self.rank::self.world_size][worker::num_workers]:
                yield from iter_shard(url)
        else:  # fewer shards than slots: everyone reads all, keeps every slots-th sample
            if worker == 0 and self.rank == 0:
                log.warning("%d WebDataset shard(s) for %d reader(s) (%d rank(s) x %d worker(s)): each reader reads "
                            "every shard and keeps 1 sample in %d; write at least %d shards (export with a "
                            "smaller --shard-size or --max-samples) so each reads whole shards of its own",
                            len(order), slots, self.world_size, num_workers, slots, slots)
            c = 0
            for url in order:
                for item in iter_shard(url):
                    if c % slots == slot:
                        yield item
                    c += 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        if self._num_workers not in (None, num_workers) and self._resume:
            raise ValueError(f"resume state was taken with num_workers={self._num_workers}, "
                             f"this loader has {num_workers}")
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker, 7])
        skip = self._resume.get(worker, 0)
        tried = ok = 0
        for pos, (key, item) in enumerate(shuffle_buffer(self._items(worker, num_workers), self.buffer_size, rng)):
            if pos < skip:
                continue
            tried += 1
            row = item if self.rows is not None else row_of(key, item)
            sample_rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker, pos])
            try:
                if row.get("source_video") is None or row.get("edited_video") is None:
                    raise UnreadableSample(f"{key} (WebDataset sample)", "source.mp4 or edited.mp4 member missing")
                sample = self.reader.read(row, sample_rng, int(self._step.value), key=key)
            except UnreadableSample as e:
                self._skips(e, e.file)
                continue
            ok += 1
            sample.update(_worker=worker, _num_workers=num_workers, _pos=pos, _epoch=self.epoch)
            # in the main process this is the loader's view; in a worker it is that worker's own
            # progress, which torchdata's StatefulDataLoader snapshots with each batch it sends
            self._num_workers = num_workers
            self._consumed[worker] = pos + 1
            yield sample
        if tried and not ok:
            msg = (f"rank {self.rank} worker {worker}: none of its {tried} samples could be read "
                   f"(see the warnings above)")
            if self.world_size * num_workers == 1:
                raise DatasetReadError(msg)
            log.error(msg)


class StatefulLoader:
    """A ``DataLoader`` over a :class:`StreamingTripletDataset` whose ``state_dict()`` resumes mid-epoch.

    It feeds each batch it hands out to ``dataset.observe``; at the end of an epoch it moves the
    dataset to the next one. Keyword arguments go to ``torch.utils.data.DataLoader``.
    """

    def __init__(self, dataset: StreamingTripletDataset, **kw: Any):
        if kw.get("persistent_workers"):
            raise ValueError("persistent_workers would keep stale epoch/resume state in the workers")
        self.dataset, self.kw = dataset, kw

    def __iter__(self) -> Iterator[Any]:
        for batch in DataLoader(self.dataset, **self.kw):
            self.dataset.observe(batch)
            yield batch
        self.dataset.set_epoch(self.dataset.epoch + 1)

    def state_dict(self) -> dict[str, Any]:
        return self.dataset.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.dataset.load_state_dict(state)
