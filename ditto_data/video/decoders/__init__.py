"""One decoder API over torchcodec, PyAV (always there) and decord (optional).

Every backend returns the same frames for the same indices (frame-exact, display orientation),
so a dataset decoded on a machine without torchcodec gives the same training samples. Where a
backend would not (codecs it mishandles, frames it fails on), this dispatcher gives the work to
PyAV: the one place that decides. A video is a path, its bytes, or a binary file object.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType

import numpy as np

from ..errors import VideoError
from ..source import VideoSource, resolve_source
from .base import DecoderBackend, VideoMetadata

log = logging.getLogger(__name__)

BACKENDS = ("torchcodec", "pyav", "decord")
#: ``auto``'s order, by what was measured fastest (benchmarks/bench_decode.py, bench_loader.py).
#: Single-threaded (the training case: parallelism comes from DataLoader workers), PyAV wins the
#: loaders' windows, random frames and whole clips into a reused ``out=``, because its H.264 path
#: never decodes frames nothing references (a whole clip into a fresh array measured faster with
#: torchcodec: numpy's huge-page faults, not decoding); with FFmpeg threads, torchcodec wins.
#: decord has known seek bugs: only when asked for.
_AUTO_ORDER = {True: ("pyav", "torchcodec"), False: ("torchcodec", "pyav")}
_unavailable: set[str] = set()  # backends whose library failed to import in this process


def _backend_class(name: str) -> type[DecoderBackend]:
    if name == "torchcodec":
        from .torchcodec import TorchCodecDecoder

        return TorchCodecDecoder
    if name == "pyav":
        from .pyav import PyAVDecoder

        return PyAVDecoder
    if name == "decord":
        from .decord import DecordDecoder

        return DecordDecoder
    raise ValueError(f"unknown decoder backend {name!r}; known: auto, {', '.join(BACKENDS)}")


def available_backends() -> list[str]:
    """Backends whose library imports here, in ``auto``'s order of preference (decord last)."""
    out = []
    for name in BACKENDS:
        try:
            __import__({"pyav": "av"}.get(name, name))
            out.append(name)
        except Exception:  # noqa: BLE001 - a broken install counts as absent
            pass
    return out


class VideoDecoder:
    """Random access to the frames of one video: a path, the file's bytes or a binary file object
    (read into memory; ``name`` labels data in errors, e.g. ``shard.tar:key.source.mp4``).

    ``threads``: FFmpeg decoding threads, 1 (default: best when many videos decode at once, as in
    a loader) or more, 0 letting FFmpeg choose. ``backend="auto"`` picks the fastest for that:
    PyAV then torchcodec single-threaded, torchcodec then PyAV otherwise. ``.metadata`` is a :class:`VideoMetadata`;
    ``get_frames(indices)`` gives uint8 [T,H,W,3] RGB in the caller's order (duplicates allowed,
    negative indices count from the end); ``get_frames_torch`` gives uint8 [T,3,H,W].
    Errors are :class:`VideoError` naming the file.
    """

    def __init__(self, source: VideoSource, backend: str = "auto", threads: int = 1, name: str | None = None):
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        names = _AUTO_ORDER[threads == 1] if backend == "auto" else (backend,)
        if backend != "auto":
            _backend_class(backend)  # unknown names raise ValueError at once
        self._source, label = resolve_source(source, name)
        self._threads = threads
        self._pyav: DecoderBackend | None = None
        last: Exception | None = None
        for candidate in names:
            if candidate in _unavailable:
                continue
            try:
                self._impl = self._open(candidate, label)
                break
            except ImportError as e:
                if backend != "auto":
                    raise VideoError(label, f"decoder backend {candidate!r} is not installed ({e})", "backend") from None
                _unavailable.add(candidate)
                last = e
            except VideoError as e:
                if backend != "auto" or candidate == names[-1] or e.reason in ("not_found", "empty_file"):
                    raise
                log.debug("%s backend failed on %s (%s); trying the next", candidate, label, e)
                last = e
        else:
            raise last if isinstance(last, VideoError) else VideoError(label, f"no decoder backend works: {last}")
        self.backend: str = self._impl.name
        self.path = self._impl.path

    def _open(self, backend: str, label: str) -> DecoderBackend:
        impl = _backend_class(backend)(self._source, threads=self._threads, name=label)
        if impl.metadata.codec in impl.mishandled_codecs:
            log.info("%s: %s is decoded with PyAV so that backends agree", label, impl.metadata.codec)
            impl.close()
            impl = self._pyav = _backend_class("pyav")(self._source, threads=self._threads, name=label)
        return impl

    def _pyav_fallback(self, error: VideoError) -> DecoderBackend:
        """PyAV on the same data, for frames another backend failed to decode."""
        log.warning("%s: %s failed (%s); decoding these frames with PyAV", self.path, self.backend, error.detail)
        if self._pyav is None:
            self._pyav = _backend_class("pyav")(self._source, threads=self._threads, name=str(self.path))
            if self._pyav.metadata.num_frames < len(self):
                log.warning("%s: PyAV counts %d frames, %s %d", self.path, self._pyav.metadata.num_frames,
                            self.backend, len(self))
        return self._pyav

    @property
    def metadata(self) -> VideoMetadata:
        return self._impl.metadata

    def __len__(self) -> int:
        return self._impl.metadata.num_frames

    def get_frames(self, indices: Sequence[int] | np.ndarray | int | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
        """uint8 [T,H,W,3] RGB frames at ``indices`` (all frames when None), written into ``out``
        (C-contiguous uint8 of that shape) when given, so a loader can reuse memory."""
        try:
            return self._impl.get_frames(indices, out)
        except VideoError as e:
            if self._impl is self._pyav or e.reason != "decode_error":
                raise
            return self._pyav_fallback(e).get_frames(indices, out)

    def get_frames_torch(self, indices: Sequence[int] | np.ndarray | int | None = None):  # -> torch.Tensor
        """uint8 torch tensor [T,3,H,W] at ``indices``."""
        import torch

        return torch.from_numpy(self.get_frames(indices)).permute(0, 3, 1, 2).contiguous()

    def close(self) -> None:
        self._impl.close()
        if self._pyav is not None and self._pyav is not self._impl:
            self._pyav.close()

    def __enter__(self) -> VideoDecoder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        m = self.metadata
        return f"VideoDecoder({str(self.path)!r}, backend={self.backend!r}, {m.num_frames} frames, {m.width}x{m.height})"


def read_frames(source: VideoSource, indices: Sequence[int] | np.ndarray | None = None,
                backend: str = "auto", threads: int = 1) -> np.ndarray:
    """uint8 [T,H,W,3] RGB frames of a video (path, bytes or file object) at ``indices`` (all when None)."""
    with VideoDecoder(source, backend=backend, threads=threads) as d:
        return d.get_frames(indices)


__all__ = ["VideoDecoder", "VideoMetadata", "VideoError", "read_frames", "available_backends", "BACKENDS"]
