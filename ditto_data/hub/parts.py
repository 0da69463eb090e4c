"""Ditto-1M's split archives: ``<name>.tar.gz.NN`` parts read back as one gunzipped stream.

Ditto-1M publishes each video folder as parts made with ``split`` and meant to be extracted with
``cat <name>.tar.gz.* | tar -zxv``. :class:`GunzipParts` does the same in Python with no merged
file on disk: it reads the parts in numeric order, inflates them itself (so it knows which part
the bad bytes came from) and yields the tar stream. Every error names the part at fault.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import HubError

PART_RE = re.compile(r"^(?P<name>.+)\.tar\.gz\.(?P<nn>\d+)$")
_CHUNK = 1 << 20


class ArchiveError(HubError):
    """A split archive is incomplete or damaged; the message names the part and what failed.

    ``damaged`` is True when bad bytes were inflated (gzip data or checksum error): data already
    extracted from the archive may be wrong. It is False for missing or truncated parts.
    """

    def __init__(self, message: str, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


@dataclass(frozen=True)
class SplitArchive:
    """The parts of one split archive, sorted by their number."""

    name: str  # e.g. "local", "global_style1"
    parts: tuple[Path, ...]
    numbers: tuple[int, ...]

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.parts)

    def check(self) -> None:
        """Raise :class:`ArchiveError` when parts are missing (a gap in NN) or a middle part is short.

        ``split -b`` makes every part but the last the same size, so a shorter middle part was cut.
        A truncated *last* part is only visible while inflating (see :class:`GunzipParts`).
        """
        nums = self.numbers
        if nums[0] not in (0, 1):
            raise ArchiveError(f"{self.parts[0]}: first part of {self.name}.tar.gz is numbered {nums[0]:02d}; "
                               f"part {1:02d} is missing")
        for prev, cur, path in zip(nums, nums[1:], self.parts[1:]):
            if cur != prev + 1:
                missing = ", ".join(f"{n:02d}" for n in range(prev + 1, cur))
                raise ArchiveError(f"{path.parent / f'{self.name}.tar.gz'}: part(s) {missing} missing "
                                   f"(have {', '.join(f'{n:02d}' for n in nums)})")
        if len(self.parts) > 1:
            full = self.parts[0].stat().st_size
            for p in self.parts[1:-1]:
                if p.stat().st_size != full:
                    raise ArchiveError(f"{p}: part is {p.stat().st_size} bytes but the parts before it are {full}: "
                                       f"truncated")
            if self.parts[-1].stat().st_size > full:
                raise ArchiveError(f"{self.parts[-1]}: last part is larger than the others: not from the same split")


def find_split_archives(folder: Path, recursive_one_level: bool = True) -> list[SplitArchive]:
    """Split archives in ``folder`` (and, for Ditto's upload layout, one folder down), by name.

    Parts of one name found in two places are an error: it is unclear which set is meant.
    """
    found: dict[str, dict[int, Path]] = {}
    candidates = list(folder.glob("*.tar.gz.*"))
    if recursive_one_level:
        candidates += list(folder.glob("*/*.tar.gz.*"))
    for p in candidates:
        m = PART_RE.match(p.name)
        if not m or not p.is_file():
            continue
        parts = found.setdefault(m["name"], {})
        n = int(m["nn"])
        if n in parts and parts[n] != p:
            raise ArchiveError(f"{p}: part {m['nn']} of {m['name']}.tar.gz also exists at {parts[n]}")
        parts[n] = p
    out = []
    for name in sorted(found):
        nums = sorted(found[name])
        out.append(SplitArchive(name, tuple(found[name][n] for n in nums), tuple(nums)))
    return out


class GunzipParts(io.RawIOBase):
    """Read-only stream of the inflated concatenation of ``parts`` (gzip, possibly multi-member).

    zlib checks each member's CRC and length; an input that ends inside a member means the last
    part is truncated or later parts are missing. ``current_part`` is the part being read.
    """

    def __init__(self, parts: list[Path] | tuple[Path, ...]) -> None:
        super().__init__()
        self._parts = list(parts)
        self._index = -1
        self._fh: io.BufferedReader | None = None
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._pos = 0  # read offset into _pending (slicing per 512-byte tar read would be quadratic)
        self._in_member = False  # inside a gzip member (a clean end is only possible between members)
        self._done = False
        self.compressed_read = 0  # bytes of the parts consumed so far (for progress)
        self._next_part()

    @property
    def current_part(self) -> Path:
        return self._parts[min(max(self._index, 0), len(self._parts) - 1)]

    def readable(self) -> bool:
        return True

    def _next_part(self) -> bool:
        if self._fh:
            self._fh.close()
            self._fh = None
        self._index += 1
        if self._index >= len(self._parts):
            return False
        self._fh = open(self._parts[self._index], "rb")  # noqa: SIM115 - closed in _next_part/close
        return True

    def _read_compressed(self) -> bytes:
        """Next compressed chunk, always from a single part so errors are attributed to it."""
        while self._fh is not None:
            data = self._fh.read(_CHUNK)
            if data:
                self.compressed_read += len(data)
                return data
            if not self._next_part():
                break
        return b""

    def _feed(self, data: bytes) -> None:
        while data:
            if not self._in_member:
                # Between members: only another gzip member, or padding zeros, may follow.
                if data.strip(b"\0") == b"":
                    return
                if not data.startswith(b"\x1f\x8b") and len(data) >= 2:
                    raise ArchiveError(f"{self.current_part}: not gzip data (bad magic bytes)", damaged=True)
                self._inflate = zlib.decompressobj(wbits=31)
                self._in_member = True
            try:
                self._pending = self._pending[self._pos:] + self._inflate.decompress(data)
                self._pos = 0
            except zlib.error as e:
                if "incorrect data check" in str(e) or "incorrect length check" in str(e):
                    # gzip's CRC sits at the end of the stream: it cannot tell which part was damaged.
                    raise ArchiveError(
                        f"{self.current_part}: gzip checksum mismatch at the end of the stream ({e}): one of the "
                        f"parts {self._parts[0].name} .. {self._parts[-1].name} is damaged; fetch them again",
                        damaged=True) from None
                raise ArchiveError(f"{self.current_part}: gzip error ({e}): this part is damaged",
                                   damaged=True) from None
            if self._inflate.eof:
                self._in_member = False
                data = self._inflate.unused_data
            else:
                data = b""

    def readinto(self, buf) -> int:  # type: ignore[override]
        while self._pos >= len(self._pending) and not self._done:
            data = self._read_compressed()
            if not data:
                self._done = True
                if self._in_member:
                    raise ArchiveError(f"{self._parts[-1]}: archive ends early: the last part is truncated or "
                                       f"parts after {self._parts[-1].name} are missing")
                break
            self._feed(data)
        n = min(len(buf), len(self._pending) - self._pos)
        buf[:n] = self._pending[self._pos:self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None
        super().close()
