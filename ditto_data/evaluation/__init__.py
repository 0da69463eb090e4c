"""Metrics of the Ditto paper's table for edited videos: CLIP-T, CLIP-F and a VLM score.

``ditto-data eval`` calls :func:`evaluate` on a folder of (source, instruction, edited) triplets or
on a built dataset. torch and transformers are imported only when a metric runs.
"""

from .clip_score import ClipScorer, clip_f, clip_t
from .report import EvalResult, evaluate
from .triplets import Triplet, TripletError, load_triplets

__all__ = ["ClipScorer", "EvalResult", "Triplet", "TripletError", "clip_f", "clip_t", "evaluate", "load_triplets"]
