"""Tiny randomly initialised models saved with ``save_pretrained``, for the model-backend tests.

Nothing is downloaded: each builder makes a config small enough to run on two CPU cores, saves
the model (and its processor or tokenizer, built offline) into a folder, and returns that folder,
which the backends then load through their real ``from_pretrained`` path.
"""

from __future__ import annotations

from pathlib import Path

import torch


def _seed() -> None:
    torch.manual_seed(0)


def dinov2_config(**kw):
    from transformers import Dinov2Config

    base = dict(image_size=28, patch_size=14, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=37, mlp_ratio=2)
    base.update(kw)
    return Dinov2Config(**base)


def tiny_dinov2(dest: Path) -> Path:
    from transformers import BitImageProcessor, Dinov2Model

    _seed()
    Dinov2Model(dinov2_config()).save_pretrained(dest)
    BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 28, "width": 28},
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(dest)
    return dest


def tiny_depth_anything(dest: Path) -> Path:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, DPTImageProcessor

    _seed()
    backbone = dinov2_config(out_features=["stage1", "stage2"], reshape_hidden_states=False, apply_layernorm=True)
    cfg = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, patch_size=14,
                              reassemble_factors=[4, 2], neck_hidden_sizes=[16, 32], fusion_hidden_size=16,
                              head_hidden_size=8)
    DepthAnythingForDepthEstimation(cfg).save_pretrained(dest)
    DPTImageProcessor(size={"height": 28, "width": 28}, keep_aspect_ratio=True, ensure_multiple_of=14,
                      do_pad=False, resample=3).save_pretrained(dest)
    return dest


def clip_frames(path: Path, count: int, step: int = 1):
    """The first ``count`` frames (every ``step``-th) of a real clip, uint8 [T, H, W, 3], via PyAV."""
    import av
    import numpy as np

    frames = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % step == 0:
                frames.append(f.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
    return np.stack(frames)


WORDS = ("a the of and in to make turn video into style sketch pencil anime watercolor man car talking "
         "replace add remove sky night day red blue with painting oil cartoon pixel art").split()


def word_tokenizer(dest: Path | None = None, extra_special: tuple[str, ...] = (), bos: str = "<bos>",
                   eos: str = "<eos>", byte_level: bool = False):
    """A small fast tokenizer built offline with ``tokenizers``, wrapped in PreTrainedTokenizerFast.

    ``byte_level`` gives a byte-level BPE with no merges (every UTF-8 string is encodable and
    decodable, as a VLM's free text must be); otherwise a whitespace word-level vocabulary.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", bos, eos, *extra_special]
    if byte_level:
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        vocab = {t: i for i, t in enumerate(specials + sorted(alphabet))}
        tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
    else:
        vocab = {t: i for i, t in enumerate(specials + WORDS)}
        tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A {eos}",
                                                          special_tokens=[(bos, vocab[bos]), (eos, vocab[eos])])
    tok.add_special_tokens(specials)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token=bos,
                                   eos_token=eos, additional_special_tokens=list(extra_special) or None)
    if dest is not None:
        fast.save_pretrained(dest)
    return fast


def tiny_clip(dest: Path) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    _seed()
    tok = word_tokenizer(dest)
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    cfg = CLIPConfig(text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                      num_attention_heads=2, max_position_embeddings=32, **ids),
                     vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37,
                                        num_hidden_layers=2, num_attention_heads=2),
                     projection_dim=16)
    CLIPModel(cfg).save_pretrained(dest)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(dest)
    return dest


QWEN_SPECIALS = ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")


def tiny_qwen_vl(dest: Path) -> Path:
    """A tiny Qwen2.5-VL with a byte-level tokenizer holding Qwen's special tokens, and its image processor."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessor

    _seed()
    tok = word_tokenizer(dest, extra_special=QWEN_SPECIALS, bos="<|endoftext|>", eos="<|endoftext|>", byte_level=True)
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in (("image_token_id", "<|image_pad|>"),
           ("video_token_id", "<|video_pad|>"), ("vision_start_token_id", "<|vision_start|>"))}  # fmt: skip
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    cfg = Qwen2_5_VLConfig(
        text_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=4096,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 1, 1]}, tie_word_embeddings=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=eos, pad_token_id=tok.pad_token_id),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=32, out_hidden_size=32, num_heads=4,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, fullatt_block_indexes=[1],
                           window_size=56),
        **ids)
    Qwen2_5_VLForConditionalGeneration(cfg).save_pretrained(dest)
    Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=56 * 56 * 2).save_pretrained(dest)
    return dest


#: The scheduler Wan's diffusers checkpoints ship (Wan2.1 T2V/VACE, Wan2.2 A14B): UniPC on flow
#: sigmas, shift 3.0 (diffusers' Wan docs: "By default, Wan uses the UniPCMultistepScheduler(
#: prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)").
WAN_SCHEDULER = dict(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0, num_train_timesteps=1000,
                     solver_order=2, solver_type="bh2", predict_x0=True, lower_order_final=True, final_sigmas_type="zero",
                     timestep_spacing="linspace")

#: Qwen/Qwen-Image(-Edit)'s scheduler/scheduler_config.json: flow-match Euler with resolution-dependent
#: (exponential) dynamic shifting.
QWEN_IMAGE_SCHEDULER = dict(base_image_seq_len=256, base_shift=0.5, invert_sigmas=False, max_image_seq_len=8192,
                            max_shift=0.9, num_train_timesteps=1000, shift=1.0, shift_terminal=0.02,
                            stochastic_sampling=False, time_shift_type="exponential", use_beta_sigmas=False,
                            use_dynamic_shifting=True, use_exponential_sigmas=False, use_karras_sigmas=False)


def _wan_parts(dest: Path):
    """Tiny Wan VAE, T5 text encoder and tokenizer (shapes of diffusers' own Wan tests), and the real
    checkpoints' scheduler class and config."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler
    from transformers import UMT5Config, UMT5EncoderModel

    _seed()
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    tok = word_tokenizer()
    _seed()
    te = UMT5EncoderModel(UMT5Config(vocab_size=len(tok), d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4,
                                 relative_attention_num_buckets=8, pad_token_id=tok.pad_token_id))
    return dict(vae=vae, scheduler=UniPCMultistepScheduler(**WAN_SCHEDULER), text_encoder=te, tokenizer=tok)


_WAN_DIT = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
                text_dim=32, freq_dim=256, ffn_dim=32, num_layers=3, cross_attn_norm=True,
                qk_norm="rms_norm_across_heads", rope_max_seq_len=32)


def tiny_wan_vace(dest: Path) -> Path:
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    parts = _wan_parts(dest)
    _seed()
    dit = WanVACETransformer3DModel(**_WAN_DIT, vace_layers=[0, 2], vace_in_channels=96)
    WanVACEPipeline(transformer=dit, **parts).save_pretrained(dest)
    return dest


def tiny_wan22(dest: Path) -> Path:
    """A two-expert Wan2.2-style pipeline: ``transformer`` (high noise) and ``transformer_2`` (low
    noise), different random weights, boundary 0.875 as Wan2.2 T2V-A14B's."""
    from diffusers import WanPipeline, WanTransformer3DModel

    parts = _wan_parts(dest)
    _seed()
    high = WanTransformer3DModel(**_WAN_DIT)
    torch.manual_seed(1)
    low = WanTransformer3DModel(**_WAN_DIT)
    WanPipeline(transformer=high, transformer_2=low, boundary_ratio=0.875, **parts).save_pretrained(dest)
    return dest


def tiny_qwen_image_edit(dest: Path) -> Path:
    """A tiny Qwen-Image-Edit pipeline laid out like the real checkpoint (processor/ holds the
    Qwen2-VL tokenizer and image processor; model_index.json names Qwen2VLProcessor)."""
    import json

    from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageEditPipeline,
                           QwenImageTransformer2DModel)
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessor

    tok = word_tokenizer(None, extra_special=QWEN_SPECIALS, bos="<|endoftext|>", eos="<|endoftext|>", byte_level=True)
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in (("image_token_id", "<|image_pad|>"),
           ("video_token_id", "<|video_pad|>"), ("vision_start_token_id", "<|vision_start|>"))}  # fmt: skip
    _seed()
    transformer = QwenImageTransformer2DModel(patch_size=2, in_channels=16, out_channels=4, num_layers=2,
                                              attention_head_dim=16, num_attention_heads=3, joint_attention_dim=16,
                                              guidance_embeds=False, axes_dims_rope=(8, 4, 4))
    _seed()
    # the pipeline always encodes the input near 1 MP: a slim VAE with the real 8x downsampling keeps that cheap
    vae = AutoencoderKLQwenImage(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                                 temperal_downsample=[False, True, True], latents_mean=[0.0] * 4, latents_std=[1.0] * 4)
    _seed()
    te = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(
        text_config=dict(hidden_size=16, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, vocab_size=len(tok), rope_theta=1000000.0,
                         rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"}),
        vision_config=dict(depth=2, hidden_size=16, intermediate_size=16, num_heads=2, out_hidden_size=16),
        **ids))
    pipe = QwenImageEditPipeline(transformer=transformer, vae=vae,
                                 scheduler=FlowMatchEulerDiscreteScheduler(**QWEN_IMAGE_SCHEDULER),
                                 text_encoder=te, tokenizer=tok, processor=None)
    pipe.save_pretrained(dest)
    tok.save_pretrained(dest / "processor")
    Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=56 * 56 * 2).save_pretrained(dest / "processor")
    index = json.loads((dest / "model_index.json").read_text())
    index["processor"] = ["transformers", "Qwen2VLProcessor"]
    (dest / "model_index.json").write_text(json.dumps(index, indent=2))
    return dest
