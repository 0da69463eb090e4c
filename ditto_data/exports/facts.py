"""Frame count, size and fps of the videos an export publishes, read from the container header.

Export checks that every edited video matches its source (DiffSynth-Studio reads both with the
same frame indices and crop), and the card reports durations and resolutions. Probing costs
milliseconds; a cache in ``.ditto/`` keyed by path relative to the dataset and (size, mtime) makes
a re-export of an unchanged dataset free and keeps the cache valid when the folder moves.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import atomic, layout
from ..video import VideoError, probe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoFacts:
    num_frames: int
    width: int
    height: int
    fps: float

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.num_frames, self.width, self.height


def video_facts(path: str | Path) -> VideoFacts:
    """Frame count, display size and fps of a video (``ditto_data.video.probe``)."""
    info = probe(path)
    if not info.has_video:
        raise VideoError(path, "no video stream", reason="no_video_stream")
    return VideoFacts(info.num_frames, info.width, info.height, round(info.fps, 6))


class FactsCache:
    """``video_facts`` behind a JSON cache in the build's state folder."""

    def __init__(self, out_dir: str | Path):
        self.root = Path(out_dir).resolve()
        self.path = layout.state_dir(out_dir) / "export" / "video_facts.json"
        self._data: dict[str, list] = {}
        self._dirty = False
        if self.path.is_file():
            try:
                self._data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                log.warning("ignoring unreadable cache %s", self.path)

    def get(self, path: str | Path) -> VideoFacts | None:
        """Facts of ``path``, or None (logged) when it cannot be read as a video."""
        p = Path(path)
        try:
            st = p.stat()
        except OSError:
            return None
        resolved = p.resolve()
        key = resolved.relative_to(self.root).as_posix() if resolved.is_relative_to(self.root) else str(resolved)
        hit = self._data.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return VideoFacts(**hit[2])
        try:
            facts = video_facts(p)
        except Exception as e:  # noqa: BLE001 - any decode failure means "not publishable"
            log.warning("cannot read video %s: %s", p, e)
            return None
        self._data[key] = [st.st_size, st.st_mtime_ns, asdict(facts)]
        self._dirty = True
        return facts

    def save(self) -> None:
        if self._dirty:
            atomic.write_json(self.path, self._data, indent=None)
            self._dirty = False
