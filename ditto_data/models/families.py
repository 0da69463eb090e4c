"""The backend families: what a stage asks of the backend it picks by name, one small ABC per family.

A stage lists its backends by name (``Stage.backends``: ``name -> "module:Class"``) and declares
the family they must belong to (``Stage.family``); a backend says what it is by subclassing that
family. So a stage reads a backend's capabilities as declared class attributes (``streams``,
``needs_frames``, ``identity``, ``resources``) instead of probing for them, and a configured backend
of another kind (a user's plugin named in a stage's table) is refused with a clear error when the
config loads rather than failing halfway through a build; a subclass that leaves a method out cannot
be built (``TypeError`` naming it).

Every backend is built with the stage's config, then ``setup()`` runs once per worker before the
first sample. Frames are uint8 ``[T, H, W, 3]`` arrays unless a family says otherwise. The model
backends (:mod:`ditto_data.models`) add weights loading on top through
:class:`~ditto_data.models.ModelBackend`; the CPU defaults live in the stage modules.

This module imports nothing heavy: every stage module imports it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from ..builders.stage import Resources

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Backend", "Captioner", "DepthEstimator", "EditJudge", "Enhancer", "FrameEmbedder", "Instructor",
    "KeyframeEditor", "MotionScorer", "VideoGenerator",
]  # fmt: skip


class Backend(ABC):
    """What every backend is: built from the stage config, set up once per worker, named in provenance."""

    #: What one worker needs (the Ray runner's actor options); None: the stage's own ``resources``.
    resources: ClassVar[Resources | None] = None

    def __init__(self, config: Any):
        self.config = config

    def setup(self) -> None:
        """Load weights or other heavy state, once per worker (nothing, by default)."""

    @property
    def model_info(self) -> dict[str, Any]:
        """Facts for the stage's provenance (model, revision, dtype, the backend really used after a
        fallback); a backend without a model has none."""
        return {}


class FrameEmbedder(Backend):
    """The ``features`` stage's backend: one vector per clip, for near-duplicate search."""

    @abstractmethod
    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Keyframes spread over a clip -> float32 ``[D]``, L2-normalised (cosine is a dot product)."""


class MotionScorer(Backend):
    """The ``motion`` stage's backend: how much a clip moves (mean cumulative point displacement,
    pixels at 1280 wide), low scores are rejected."""

    #: True: ``score`` takes an iterable of frames, so the stage decodes a chunk at a time; False:
    #: the whole clip as one array (a model tracks over all of it at once).
    streams: ClassVar[bool] = False

    @abstractmethod
    def score(self, frames: np.ndarray | Iterable[np.ndarray]) -> float:
        """The clip's frames (every ``frame_stride``-th) -> its motion score."""


class DepthEstimator(Backend):
    """The ``depth`` stage's backend: the control video VACE is conditioned on."""

    @abstractmethod
    def depth(self, frames: np.ndarray) -> np.ndarray:
        """All of a clip's frames -> uint8 ``[T, H, W]``, near = bright, aligned frame for frame."""


class Captioner(Backend):
    """The ``caption`` stage's backend: a dense description of a source clip."""

    @abstractmethod
    def caption(self, frames: np.ndarray, info: dict[str, Any]) -> str:
        """Frames spread over the clip and the clip's fields so far (size, duration, motion) -> a caption."""


class Instructor(Backend):
    """The ``instruction`` stage's backend: the edits to make of a clip."""

    #: False: ``instructions`` ignores the frames (gets None), so the stage does not decode any.
    needs_frames: ClassVar[bool] = True

    @abstractmethod
    def instructions(self, frames: np.ndarray | None, caption: str, n: int, seed: int) -> list[dict[str, Any]]:
        """Up to ``n`` edits ``{"instruction", "category", "style"}`` for a clip, repeatable from ``seed``."""


class KeyframeEditor(Backend):
    """The ``keyframe_edit`` stage's backend: the edited first frame that guides generation."""

    @abstractmethod
    def edit(self, image: np.ndarray, instruction: str, style: str | None, seed: int) -> np.ndarray:
        """uint8 ``[H, W, 3]`` -> the edited image at the same size (a mismatch rejects the edit)."""


class VideoGenerator(Backend):
    """The ``generate`` stage's backend: the edited video, frame for frame with its source."""

    #: True: takes and returns iterables of frames, so a clip never sits in memory whole (and gets no
    #: depth video); False: whole arrays, with the depth video when the edit has one.
    streams: ClassVar[bool] = False

    @abstractmethod
    def generate(self, source_frames: np.ndarray | Iterable[np.ndarray], edited_keyframe: np.ndarray,
                 depth_frames: np.ndarray | None, instruction: str, style: str | None,
                 seed: int) -> np.ndarray | Iterable[np.ndarray]:
        """The source's frames, the edited keyframe, the depth video (grey ``[T, H, W]``) -> the edited
        frames, as many and as large as the source's."""


class EditJudge(Backend):
    """The ``judge`` stage's backend: scores of an edit (source and edited frames, the instruction).

    A score named ``x`` is checked against the judge config's ``min_x``; a ``rationale`` entry is
    kept beside the scores.
    """

    @abstractmethod
    def judge(self, source_frames: np.ndarray, edited_frames: np.ndarray, instruction: str,
              seed: int = 0) -> dict[str, Any]:
        """Frames of both videos at the same instants -> ``{score name: value, ["rationale": text]}``."""


class Enhancer(Backend):
    """The ``enhance`` stage's backend: a refined edited video."""

    #: True: leaves the video as it is, so the stage neither decodes nor re-encodes it and only
    #: records the provenance.
    identity: ClassVar[bool] = False

    @abstractmethod
    def enhance(self, edited_frames: np.ndarray, instruction: str, seed: int) -> np.ndarray:
        """The edited video's frames -> refined frames, same count and size."""
