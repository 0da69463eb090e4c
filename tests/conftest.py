"""Shared fixtures: real clips (vendored samples and the dev media of ../shared/media)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# Keep `datasets`' cache per test session: it keys local folders by name and mtimes, not by path,
# so folders named alike in different temporary places could share stale cached rows. Set before
# anything imports `datasets`, which reads it once.
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="ditto-hf-datasets-"))

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
FETCH = ROOT.parent / "shared" / "media" / "fetch-dev-media.sh"
CACHE = Path(os.environ.get("DITTO_TEST_CACHE", ROOT / ".cache"))


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """Folder of the real dev clips of ../shared/media/MEDIA.md, fetched once and cached."""
    dest = CACHE / "media"
    if not (dest / "videos" / "imageio_realshort.mp4").is_file():
        if not FETCH.is_file():
            pytest.fail(f"dev media script not found at {FETCH}: check out ../shared beside the repo")
        subprocess.run(["bash", str(FETCH), str(dest)], check=True, stdout=subprocess.DEVNULL)
    return dest / "videos"


@pytest.fixture()
def clip(media_dir):
    """Path of a named dev clip."""
    return lambda name: media_dir / name


@pytest.fixture()
def input_dir(tmp_path):
    """An empty input folder and a helper that copies named real clips into it."""
    d = tmp_path / "input"
    d.mkdir()

    def add(*paths: Path) -> Path:
        for p in paths:
            shutil.copy(p, d / Path(p).name)
        return d

    add.dir = d
    return add
