"""CLIP-T and CLIP-F, as the video-editing papers report them (cosine similarities x 100).

- CLIP-T: mean over the edited video's frames of cos(CLIP image embedding, CLIP text embedding of
  the instruction): does the edit follow the text.
- CLIP-F: mean over consecutive frame pairs of cos(embedding of frame t, embedding of frame t+1):
  is the edited video temporally consistent.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_CLIP = "openai/clip-vit-large-patch14"


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def clip_t(image_embeds: np.ndarray, text_embed: np.ndarray) -> float:
    """Mean cosine similarity x 100 of each frame's embedding ``[T, D]`` with the text's ``[D]``."""
    return float((_unit(image_embeds) @ _unit(text_embed)).mean() * 100.0)


def clip_f(image_embeds: np.ndarray) -> float:
    """Mean cosine similarity x 100 of consecutive frames' embeddings ``[T, D]``; NaN for one frame."""
    if len(image_embeds) < 2:
        return float("nan")
    e = _unit(image_embeds)
    return float((e[:-1] * e[1:]).sum(-1).mean() * 100.0)


class ClipScorer:
    """A CLIP model (transformers ``CLIPModel``) from a local folder or a Hub id, loaded once."""

    def __init__(self, model: str = DEFAULT_CLIP, device: str = "auto", batch_size: int = 16,
                 revision: str | None = None):
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        from ..models import resolve_device

        self.model_id, self.batch_size = model, max(1, batch_size)
        self.device = resolve_device(device)
        kw = {"revision": revision} if revision else {}
        self.tokenizer = AutoTokenizer.from_pretrained(model, **kw)
        self.processor = AutoImageProcessor.from_pretrained(model, **kw)
        self.model = CLIPModel.from_pretrained(model, **kw).to(self.device).eval()
        self.max_length = int(self.model.config.text_config.max_position_embeddings)

    @staticmethod
    def _features(out) -> np.ndarray:
        t = out if hasattr(out, "shape") else out.pooler_output  # transformers 4 returns a tensor, 5 an output
        return t.float().cpu().numpy()

    def image_embeds(self, frames: np.ndarray) -> np.ndarray:
        """Projected image embeddings ``[T, D]`` (not normalised) of uint8 frames ``[T, H, W, 3]``."""
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                px = self.processor(images=list(frames[i : i + self.batch_size]), return_tensors="pt")["pixel_values"]
                out.append(self._features(self.model.get_image_features(pixel_values=px.to(self.device))))
        return np.concatenate(out)

    def text_embed(self, text: str) -> np.ndarray:
        """Projected text embedding ``[D]`` (not normalised)."""
        import torch

        tok = self.tokenizer([text], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with torch.inference_mode():
            out = self.model.get_text_features(input_ids=tok["input_ids"].to(self.device),
                                               attention_mask=tok["attention_mask"].to(self.device))
        return self._features(out)[0]

    def score(self, frames: np.ndarray, text: str) -> dict[str, float]:
        """``{"clip_t": ..., "clip_f": ...}`` for one edited video and its instruction."""
        emb = self.image_embeds(frames)
        return {"clip_t": clip_t(emb, self.text_embed(text)), "clip_f": clip_f(emb)}
