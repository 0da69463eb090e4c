"""Qwen2.5-VL backends: dense caption, edit instructions and the judge (the paper's VLM steps).

The paper's two steps: a dense caption from frames sampled over the clip, then an instruction from
the same frames plus the caption, for each edit category. The prompts are versioned files
(``prompts/*.txt``) whose sha256 is in ``model_info``. Answers must be strict JSON
(:mod:`.vlm_parse`); a malformed answer is retried with a new seed and, after ``max_retries``
more attempts, :class:`VLMOutputError` (``reason = "vlm_malformed"``) is raised for the stage to
turn into a rejection.

Frames go to the model as a sequence of images, resized to at most ``max_pixels`` each, with the
chat format of Qwen2.5-VL-Instruct built here; the image placeholders are expanded from the image
processor's grid, as ``Qwen2_5_VLProcessor`` does (its video processor needs torchvision, which
this project keeps optional). The three backends of one worker share one loaded model.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..builders.stage import Resources
from ..schema import CATEGORIES
from ._base import ModelBackend, check_frames, sample_indices
from .families import Captioner, EditJudge, Instructor
from .prompts import Prompt, load_prompt
from .vlm_parse import MalformedAnswer, VLMOutputError, integer, optional_text, parse_answer, score, text

log = logging.getLogger(__name__)

__all__ = ["QwenVLCaptioner", "QwenVLInstructor", "QwenVLJudge", "QwenVLRubricJudge", "VLMOutputError"]

SYSTEM = "You are a helpful assistant."
IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"
_SHARED: dict[tuple, tuple] = {}  # (model, revision, device, dtype) -> (model, tokenizer, image processor)


def chat_text(user_text: str, n_images: int) -> str:
    """Qwen2.5-VL-Instruct's chat format: system turn, a user turn with the images first, assistant cue."""
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{IMAGE * n_images}{user_text}<|im_end|>\n"
            "<|im_start|>assistant\n")


def fit_pixels(frame: np.ndarray, max_pixels: int) -> np.ndarray:
    """Downscale a frame (keeping its aspect) to at most ``max_pixels`` pixels; never upscale."""
    import cv2

    h, w = frame.shape[:2]
    if h * w <= max_pixels:
        return frame
    s = (max_pixels / (h * w)) ** 0.5
    return cv2.resize(frame, (max(28, int(w * s)), max(28, int(h * s))), interpolation=cv2.INTER_AREA)


class _QwenVL(ModelBackend):
    default_model = "Qwen/Qwen2.5-VL-7B-Instruct"
    resources = Resources(cpus=1, gpus=1, gpu_memory_gb=24.0)
    default_frames = 8
    default_max_new_tokens = 256
    default_temperature = 0.7  # captions and instructions: varied wording across clips

    def _load(self) -> None:
        key = (self.model_id, self.revision, self.device, str(self.dtype))
        if key not in _SHARED:
            from transformers import AutoImageProcessor, AutoTokenizer, Qwen2_5_VLForConditionalGeneration

            kw = self.pretrained_kwargs()
            model = Qwen2_5_VLForConditionalGeneration.from_pretrained(self.model_id, dtype=self.dtype, **kw)
            _SHARED[key] = (model.to(self.device).eval(), AutoTokenizer.from_pretrained(self.model_id, **kw),
                            AutoImageProcessor.from_pretrained(self.model_id, **kw))
        self.model, self.tokenizer, self.image_processor = _SHARED[key]

    # -- options ---------------------------------------------------------------------------
    @property
    def max_retries(self) -> int:
        return int(self.option("max_retries", 2))

    def _prompt(self, name: str) -> Prompt:
        return load_prompt(name, self.option("prompt_version", None))

    # -- one question, one answer ----------------------------------------------------------
    def _images(self, frames: np.ndarray, count: int) -> list[np.ndarray]:
        frames = check_frames(frames)
        max_pixels = int(self.option("max_pixels", 448 * 448))
        return [fit_pixels(frames[i], max_pixels) for i in sample_indices(len(frames), count)]

    def encode(self, images: list[np.ndarray], user_text: str) -> dict[str, Any]:
        """Model inputs for a user turn of ``images`` then ``user_text``, on the model's device."""
        im = self.image_processor(images=images, return_tensors="pt")
        per_image = (im["image_grid_thw"].prod(-1) // self.image_processor.merge_size**2).tolist()
        parts = chat_text(user_text, len(images)).split("<|image_pad|>")
        prompt = parts[0] + "".join("<|image_pad|>" * int(n) + p for n, p in zip(per_image, parts[1:]))
        tok = self.tokenizer([prompt], return_tensors="pt")
        return {"input_ids": tok["input_ids"].to(self.device), "attention_mask": tok["attention_mask"].to(self.device),
                "pixel_values": im["pixel_values"].to(self.device, self.dtype),
                "image_grid_thw": im["image_grid_thw"].to(self.device)}

    def temperature_for(self, attempt: int) -> float:
        """``temperature`` for the first answer; a greedy answer that failed to parse would fail
        again, so retries after a greedy one sample at ``retry_temperature``."""
        t = float(self.option("temperature", self.default_temperature))
        return float(self.option("retry_temperature", 0.7)) if t <= 0 and attempt > 0 else t

    def answer(self, inputs: dict[str, Any], seed: int, temperature: float | None = None, allowed=None) -> str:
        """One answer, greedy when ``temperature`` is 0 (else sampled, reproducibly from ``seed``).

        ``allowed``: an optional ``prefix_allowed_tokens_fn`` for transformers' ``generate``
        (constrained decoding, see :class:`QwenVLRubricJudge`).
        """
        import torch

        if temperature is None:
            temperature = self.temperature_for(0)
        devices = [torch.device(self.device).index or 0] if self.device.startswith("cuda") else []
        with torch.inference_mode(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            out = self.model.generate(**inputs, max_new_tokens=int(self.option("max_new_tokens", self.default_max_new_tokens)),
                                      do_sample=temperature > 0, temperature=temperature or None,
                                      top_p=0.9 if temperature > 0 else None, top_k=None,
                                      prefix_allowed_tokens_fn=allowed)
        return self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def ask_json(self, task: str, images: list[np.ndarray], user_text: str, schema: dict, seed: int,
                 optional: tuple[str, ...] = (), allowed=None) -> dict[str, Any]:
        """Ask until the answer parses (at most ``1 + max_retries`` times), else VLMOutputError."""
        self.ensure_loaded()
        inputs = self.encode(images, user_text)
        answers, errors = [], []
        for attempt in range(1 + self.max_retries):
            ans = self.answer(inputs, seed * 1009 + attempt, self.temperature_for(attempt),
                              allowed(inputs) if allowed else None)
            answers.append(ans)
            try:
                return parse_answer(ans, schema, optional)
            except MalformedAnswer as e:
                errors.append(str(e))
                log.debug("%s attempt %d: malformed answer (%s): %.200r", task, attempt + 1, e, ans)
        raise VLMOutputError(task, errors, answers)

    def extra_info(self) -> dict[str, Any]:
        return {"prompts": {p.id: p.sha256 for p in self.prompts()}, "temperature": self.temperature_for(0)}

    def prompts(self) -> list[Prompt]:
        return []


def describe(info: dict[str, Any]) -> str:
    """Probe facts as words for the caption prompt: ``1280x720, 20 fps, 5.0 s``."""
    bits = []
    if info.get("width") and info.get("height"):
        bits.append(f"{info['width']}x{info['height']}")
    if info.get("fps"):
        bits.append(f"{float(info['fps']):g} fps")
    if info.get("duration"):
        bits.append(f"{float(info['duration']):.1f} s")
    return ", ".join(bits) or "no facts known"


class QwenVLCaptioner(_QwenVL, Captioner):
    """``caption(frames, info) -> str``: a dense caption from ``frames`` (default 8) sampled frames."""

    def prompts(self) -> list[Prompt]:
        return [self._prompt("caption")]

    def caption(self, frames: np.ndarray, info: dict[str, Any] | None = None, seed: int = 0) -> str:
        images = self._images(frames, int(self.option("frames", self.default_frames)))
        user = self._prompt("caption").render(n_frames=len(images), info=describe(info or {}))
        return self.ask_json("caption", images, user, {"caption": text(5, 300)}, seed)["caption"]


class QwenVLInstructor(_QwenVL, Instructor):
    """``instructions(frames, caption, n, seed) -> [{instruction, category, style}]``.

    Edit ``i`` gets category ``categories[(seed + i) % len(categories)]`` (config ``categories``,
    default all three), so a clip's edits spread over the categories deterministically. An edit
    whose answers stay malformed is dropped (kept in ``last_failures``); when every edit fails the
    last :class:`VLMOutputError` is raised.
    """

    default_max_new_tokens = 96

    @property
    def categories(self) -> list[str]:
        cats = list(self.option("categories", CATEGORIES))
        bad = [c for c in cats if c not in CATEGORIES]
        if bad or not cats:
            raise ValueError(f"categories must be among {', '.join(CATEGORIES)}, got {cats}")
        return cats

    def prompts(self) -> list[Prompt]:
        return [self._prompt(f"instruction_{c}") for c in self.categories]

    def instructions(self, frames: np.ndarray, caption: str, n: int, seed: int) -> list[dict[str, Any]]:
        images = self._images(frames, int(self.option("frames", self.default_frames)))
        cats, out = self.categories, []
        self.last_failures: list[VLMOutputError] = []
        for i in range(n):
            cat = cats[(seed + i) % len(cats)]
            user = self._prompt(f"instruction_{cat}").render(n_frames=len(images), caption=caption)
            style = text(1, 12) if cat == "global_style" else optional_text()
            try:
                ans = self.ask_json(f"instruction[{cat}]", images, user, {"instruction": text(4, 60), "style": style},
                                    seed + i, optional=() if cat == "global_style" else ("style",))
            except VLMOutputError as e:
                self.last_failures.append(e)
                log.warning("edit %d (%s): %s", i, cat, e)
                continue
            out.append({"instruction": ans["instruction"], "category": cat, "style": ans["style"]})
        if n > 0 and not out:
            raise self.last_failures[-1]
        return out


class QwenVLJudge(_QwenVL, EditJudge):
    """``judge(source_frames, edited_frames, instruction) -> {4 scores 0-10, rationale}``.

    ``frames`` (default 4) frames at the same relative moments of source and edited go to the model,
    source first. Thresholds belong to the judge stage's config.
    """

    SCORE_KEYS = ("instruction_fidelity", "content_preservation", "visual_quality", "safety")
    default_temperature = 0.0  # greedy: a verdict must not depend on sampling luck
    default_frames = 4
    default_max_new_tokens = 160

    def prompts(self) -> list[Prompt]:
        return [self._prompt("judge")]

    def judge(self, source_frames: np.ndarray, edited_frames: np.ndarray, instruction: str,
              seed: int = 0) -> dict[str, Any]:
        k = int(self.option("frames", self.default_frames))
        src, edt = self._images(source_frames, k), self._images(edited_frames, k)
        user = self._prompt("judge").render(n_source=len(src), n_edited=len(edt), instruction=instruction)
        schema = {key: score() for key in self.SCORE_KEYS} | {"rationale": text(1, 80)}
        return self.ask_json("judge", src + edt, user, schema, seed, optional=("rationale",))


class RubricGrammar:
    """Constrained decoding for a rubric answer: the model may only write
    ``{"<key1>": D, "<key2>": D, ...}`` with each ``D`` one of the allowed digits, then end.

    The scores are still the model's own choice (its most likely allowed token at each slot); the
    format cannot go wrong, so no answer is lost to formatting and none is repaired from reasoning.
    Works with any tokenizer: a token is allowed when the text so far plus the token's text is
    still a prefix of some valid answer. Tokens are indexed by their first character, so each step
    checks a handful of candidates rather than the vocabulary.
    """

    def __init__(self, tokenizer, keys: tuple[str, ...], digits: str = "12345"):
        self.tokenizer, self.digits = tokenizer, digits
        self.parts = ["{" + f'"{keys[0]}": '] + [f', "{k}": ' for k in keys[1:]] + ["}"]
        self.eos = [t for t in {tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id}
                    if isinstance(t, int) and t >= 0]
        self.by_first: dict[str, list[tuple[int, str]]] = {}
        for i in range(len(tokenizer)):
            if i in self.eos:
                continue
            t = tokenizer.decode([i])
            if t:
                self.by_first.setdefault(t[0], []).append((i, t))

    def next_chars(self, text: str) -> set[str] | None:
        """The characters that may follow ``text``: an empty set when it is a whole answer, None when
        it is not a prefix of any."""
        pos = 0
        for k, lit in enumerate(self.parts):
            take = text[pos:pos + len(lit)]
            if not lit.startswith(take):
                return None
            if len(take) < len(lit):
                return {lit[len(take)]}
            pos += len(lit)
            if k == len(self.parts) - 1:
                return set() if pos == len(text) else None
            if pos == len(text):
                return set(self.digits)
            if text[pos] not in self.digits:
                return None
            pos += 1
        return None

    def __call__(self, inputs: dict[str, Any]):
        start = int(inputs["input_ids"].shape[1])

        def allowed(batch_id: int, ids) -> list[int]:
            text = self.tokenizer.decode(ids[start:].tolist(), skip_special_tokens=True)
            nxt = self.next_chars(text)
            if not nxt:  # complete (or, impossibly, off the grammar): end the answer
                return self.eos
            ok = [i for c in nxt for i, t in self.by_first.get(c, ()) if self.next_chars(text + t) is not None]
            return ok or self.eos

        return allowed


class QwenVLRubricJudge(_QwenVL):
    """``rate(source_frames, edited_frames, instruction, prompt_name) -> {criterion: int 1..5}``.

    A benchmark's judge (OpenVE-Bench, :mod:`ditto_data.evaluation.openve`): one versioned prompt per
    edit type (the rubric), an answer that must be one JSON object with exactly the criteria as
    keys and integers in 1..5 (:func:`.vlm_parse.integer`; nothing is read from prose). With
    ``constrained`` (the default) decoding follows :class:`RubricGrammar`, so the format holds and
    greedy decoding (``temperature`` 0, the default here) makes the scores reproducible.
    """

    default_frames = 4
    default_max_new_tokens = 96
    default_temperature = 0.0  # a judge: greedy, so the same outputs always get the same scores
    _grammar: RubricGrammar | None = None  # the last rubric's grammar, kept while the criteria stay the same

    def rate(self, source_frames: np.ndarray, edited_frames: np.ndarray, instruction: str, prompt: Prompt,
             keys: tuple[str, ...], seed: int = 0) -> dict[str, int]:
        k = int(self.option("frames", self.default_frames))
        src, edt = self._images(source_frames, k), self._images(edited_frames, k)
        user = prompt.render(n_source=len(src), n_edited=len(edt), instruction=instruction)
        allowed = None
        if bool(self.option("constrained", True)):
            self.ensure_loaded()
            grammar = self._grammar
            if grammar is None or grammar.parts[0] != "{" + f'"{keys[0]}": ':
                grammar = self._grammar = RubricGrammar(self.tokenizer, keys)
            allowed = grammar
        return self.ask_json(f"rate[{prompt.id}]", src + edt, user, {key: integer(1, 5) for key in keys}, seed,
                             allowed=allowed)
