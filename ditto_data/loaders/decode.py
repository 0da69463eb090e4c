"""Turn one triplet row into a training sample: aligned frames from every stream, resized, typed.

A row's video fields are paths or the mp4 bytes themselves (WebDataset). Source and edited are
decoded at the same indices; the edited reference keyframe (frame 0, or the dataset's PNG) and the
depth video come along where wanted and present.
"""

from __future__ import annotations

import io
import logging
import multiprocessing as mp
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .curriculum import ModalityCurriculum
from .sampling import ClipSampler, check_size, resize_crop, to_float

log = logging.getLogger(__name__)

Source = str | os.PathLike | bytes


class UnreadableSample(Exception):
    """One sample cannot be read; ``file`` names the culprit (a path or a WebDataset member)."""

    def __init__(self, file: str, message: str):
        super().__init__(f"{file}: {message}")
        self.file = file


def _name(src: Source, label: str) -> str:
    return label if isinstance(src, bytes) else str(src)


def open_video(src: Source, label: str | None = None):
    """A :class:`ditto_data.video.VideoDecoder` on a path, or on mp4 bytes (a WebDataset member,
    decoded from memory; ``label`` names it in errors)."""
    from ..video import VideoDecoder

    if not isinstance(src, bytes) and not Path(src).is_file():
        raise UnreadableSample(str(src), "file not found")
    return VideoDecoder(src, name=label)


def read_image(src: Source) -> torch.Tensor:
    """A PNG/JPEG (path or bytes) -> [3,H,W] uint8."""
    from PIL import Image

    with Image.open(io.BytesIO(src) if isinstance(src, bytes) else src) as im:
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


class FramePool:
    """Recycled uint8 [T,H,W,3] arrays to decode clips into.

    A 17-frame 720p clip is 47 MB; faulting fresh pages in for every clip costs about a tenth of a
    sample's time (more on VMs), and glibc hands such blocks straight back to the OS. An array is
    reused once nothing but the pool refers to it, i.e. the sample that held it was dropped or
    collated (every view and tensor made from it refers to it), so this is safe and keeps a
    worker's memory flat. At most ``keep`` arrays are held; others are allocated as usual.
    """

    def __init__(self, keep: int = 4):
        self.keep = keep
        self._arrays: list[np.ndarray] = []
        self._lock = threading.Lock()

    @staticmethod
    def _refs(arrays: list[np.ndarray], k: int) -> int:
        return sys.getrefcount(arrays[k])

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        if not getattr(sys, "_is_gil_enabled", lambda: True)():  # free-threaded: counts are not exact
            return np.empty(shape, np.uint8)
        with self._lock:
            arrays = self._arrays
            # what "held by the pool alone" reads as, measured the same way on this interpreter
            arrays.append(np.empty(0, np.uint8))
            alone = self._refs(arrays, len(arrays) - 1)
            arrays.pop()
            idle = [k for k in range(len(arrays)) if self._refs(arrays, k) == alone]
            for k in idle:
                if arrays[k].shape == shape:
                    return arrays[k]
            arr = np.empty(shape, np.uint8)
            if len(arrays) >= self.keep:  # make room by dropping an idle one of another shape
                if not idle:
                    return arr
                del arrays[idle[0]]
            arrays.append(arr)
            return arr

    def __getstate__(self) -> dict:  # DataLoader workers start with an empty pool
        return {"keep": self.keep}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["keep"])


_TRIM_EVERY = 32
_reads = 0
_malloc_trim: Callable[[int], int] | None | bool = None


def release_memory() -> None:
    """Every few samples, hand freed heap back to the OS (glibc ``malloc_trim``).

    Frame buffers, resized clips and collated batches are tens of MB each; glibc keeps freed heap
    pages, and their fragments let a DataLoader worker creep up sample after sample (measured:
    +210 MiB per worker over 400 720p samples without trimming, none with it every 32 samples,
    at no cost in samples/s). The decode arrays themselves are recycled by :class:`FramePool`.
    """
    global _reads, _malloc_trim
    _reads += 1
    if _reads % _TRIM_EVERY:
        return
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


class SkipCounter:
    """Bad samples: one warning per file per process, and a count shared with DataLoader workers."""

    def __init__(self) -> None:
        self._count = mp.Value("q", 0)
        self.warned: set[str] = set()

    def count(self) -> None:
        with self._count.get_lock():
            self._count.value += 1

    def __call__(self, err: Exception, file: str) -> None:
        self.count()
        if file not in self.warned:
            self.warned.add(file)
            log.warning("skipping unreadable sample: %s", err)

    @property
    def value(self) -> int:
        return int(self._count.value)


class TrainingKnobs:
    """What a training loop turns on either dataset: the step (for the curriculum) and the skip count.

    Both live in shared memory, so DataLoader workers that are already running see ``set_step``
    and the count adds up over workers.
    """

    def _init_knobs(self) -> None:
        self._step = mp.Value("q", 0, lock=False)
        self._skips = SkipCounter()

    @property
    def skipped(self) -> int:
        """Samples skipped as unreadable so far, over all DataLoader workers."""
        return self._skips.value

    def set_step(self, step: int) -> None:
        """The training step, for the modality curriculum."""
        self._step.value = int(step)


@dataclass
class SampleReader:
    """Reads a row into a dict of tensors. ``size`` (h, w), multiples of 16, or None for native size.

    ``dtype``: ``"uint8"`` or ``"float"`` (float32 in [-1, 1]). ``reference``: ``"always"``,
    ``"never"`` or ``"curriculum"`` (the :class:`ModalityCurriculum` decides per sample; a dropped
    reference is all zeros with ``has_reference`` False, so batches still collate); ``None``:
    ``"curriculum"`` when a curriculum is given, else ``"never"``.
    ``parallel``: decode source and edited in two threads (the decoders release the GIL); ``None``
    (default) does so only outside DataLoader workers, whose processes already fill the cores.
    """

    sampler: ClipSampler
    size: tuple[int, int] | None = None
    crop: str = "center"
    dtype: str = "uint8"
    reference: str | None = None
    curriculum: ModalityCurriculum | None = None
    depth: bool = True
    parallel: bool | None = None

    def __post_init__(self) -> None:
        if self.reference is None:
            self.reference = "curriculum" if self.curriculum is not None else "never"
        self.size = check_size(self.size)
        if self.dtype not in ("uint8", "float"):
            raise ValueError(f"dtype must be 'uint8' or 'float', got {self.dtype!r}")
        if self.reference not in ("always", "never", "curriculum"):
            raise ValueError(f"reference must be 'always', 'never' or 'curriculum', got {self.reference!r}")
        if self.reference == "curriculum" and self.curriculum is None:
            raise ValueError("reference='curriculum' needs a ModalityCurriculum")
        if self.crop not in ("center", "random"):
            raise ValueError(f"crop must be 'center' or 'random', got {self.crop!r}")
        self._pool: ThreadPoolExecutor | None = None
        self._frames = FramePool()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_pool": None}

    def wants_reference(self, step: int, rng: np.random.Generator) -> bool:
        if self.reference == "curriculum":
            return self.curriculum.sample(step, rng)
        return self.reference == "always"

    def _run(self, fns: list[Callable[[], Any]]) -> list[Any]:
        parallel = self.parallel
        if parallel is None:
            parallel = torch.utils.data.get_worker_info() is None
        if not parallel or len(fns) == 1:
            return [f() for f in fns]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(2, len(fns)), thread_name_prefix="ditto-decode")
        return [f.result() for f in [self._pool.submit(fn) for fn in fns]]

    def read(self, row: dict[str, Any], rng: np.random.Generator, step: int = 0,
             key: str | None = None) -> dict[str, Any]:
        """The sample of ``row``; raises :class:`UnreadableSample` naming the file that failed."""
        release_memory()
        key = key or row.get("id", "?")
        with_ref = self.wants_reference(step, rng)
        streams = {"source": row["source_video"], "edited": row["edited_video"]}
        if self.depth and row.get("depth_video") is not None:
            streams["depth"] = row["depth_video"]
        with ExitStack() as stack:
            decs = {}
            for name, src in streams.items():
                label = _name(src, f"{key}.{name}.mp4")
                try:
                    decs[name] = stack.enter_context(open_video(src, label))
                except UnreadableSample:
                    raise
                except Exception as e:  # noqa: BLE001 - VideoError or anything a broken file throws
                    raise UnreadableSample(label, f"cannot open: {e}") from e
            n = min(len(d) for d in decs.values())
            fps = decs["source"].metadata.fps
            try:
                idx = self.sampler.indices(n, fps, rng)
            except ValueError as e:
                raise UnreadableSample(_name(streams["source"], key), str(e)) from e
            ref_png = row.get("reference_image")
            ref_from_video = with_ref and ref_png is None
            want = {name: idx for name in decs}
            if ref_from_video and 0 not in idx:
                want["edited"] = [0, *idx]

            def get(name: str) -> torch.Tensor:
                m = decs[name].metadata
                out = self._frames.take((len(want[name]), m.height, m.width, 3))
                try:  # NHWC -> NCHW view (channels-last strides): no copy before the resize
                    return torch.from_numpy(decs[name].get_frames(want[name], out)).permute(0, 3, 1, 2)
                except Exception as e:  # noqa: BLE001
                    raise UnreadableSample(_name(streams[name], f"{key}.{name}.mp4"), f"decode failed: {e}") from e

            names = list(decs)
            frames = dict(zip(names, self._run([lambda nm=nm: get(nm) for nm in names])))
        if ref_from_video:
            edited = frames["edited"]
            ref = edited[0:1]
            frames["edited"] = edited[1:] if len(want["edited"]) > len(idx) else edited
        elif with_ref:
            try:
                ref = read_image(ref_png)[None]
            except Exception as e:  # noqa: BLE001
                raise UnreadableSample(_name(ref_png, f"{key}.reference.png"), f"cannot read image: {e}") from e
        size = self.size or tuple(frames["source"].shape[-2:])
        crop_rng = np.random.default_rng(rng.integers(1 << 62)) if self.crop == "random" else None
        out: dict[str, Any] = {}
        for name, t in frames.items():
            # every stream gets the same crop window: same rng state per stream
            r = np.random.default_rng(crop_rng.bit_generator.state["state"]["state"]) if crop_rng else None
            out[name] = self._finish(resize_crop(t, size, self.crop, r))
        if self.reference != "never":
            if with_ref:
                r = np.random.default_rng(crop_rng.bit_generator.state["state"]["state"]) if crop_rng else None
                out["reference"] = self._finish(resize_crop(ref, size, self.crop, r)[0])
            else:
                out["reference"] = self._finish(torch.zeros((3, *size), dtype=torch.uint8))
            out["has_reference"] = with_ref
        out.update(instruction=row.get("instruction") or "", caption=row.get("caption") or "",
                   id=row.get("id", key), source_id=row.get("source_id") or "",
                   category=row.get("category") or "", dataset=row.get("dataset") or "",
                   frame_indices=torch.tensor(idx, dtype=torch.long))
        return out

    def _finish(self, t: torch.Tensor) -> torch.Tensor:
        # uint8 frames stay a [T,3,H,W] view of the decoder's [T,H,W,3] buffer (channels-last
        # strides): a transposing copy of a 720p clip costs about a third of its decode time
        return to_float(t) if self.dtype == "float" else t
