"""DINOv2 clip features for near-duplicate detection (the paper's dedup), via transformers.

A clip's feature is the mean of its frames' DINOv2 CLS embeddings (``pooler_output``), L2-normalised,
so cosine similarity is a dot product and the stage's ANN index (faiss inner product) is unchanged.
"""

from __future__ import annotations

import numpy as np

from ..builders.stage import Resources
from ._base import ModelBackend, check_frames
from .families import FrameEmbedder


class Dinov2Features(ModelBackend, FrameEmbedder):
    """``embed(frames uint8 [T,H,W,3]) -> float32 [D]``, L2-normalised."""

    default_model = "facebook/dinov2-base"
    resources = Resources(cpus=1, gpus=0.25, gpu_memory_gb=2.0)

    def _load(self) -> None:
        from transformers import AutoImageProcessor, Dinov2Model

        kw = self.pretrained_kwargs()
        self.processor = AutoImageProcessor.from_pretrained(self.model_id, **kw)
        self.model = Dinov2Model.from_pretrained(self.model_id, dtype=self.dtype, **kw).to(self.device).eval()

    def embed(self, frames: np.ndarray) -> np.ndarray:
        import torch

        self.ensure_loaded()
        frames = check_frames(frames)
        feats = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                batch = list(frames[i : i + self.batch_size])
                pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
                out = self.model(pixel_values=pixels.to(self.device, self.dtype))
                feats.append(out.pooler_output.float().cpu())
        v = torch.cat(feats).mean(0).numpy().astype(np.float32)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    def extra_info(self) -> dict:
        return {"feature_dim": int(self.model.config.hidden_size)} if self._loaded else {}
