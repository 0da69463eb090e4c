"""The pipeline machinery: Stage contract and registry, config, ledger, executors.

It imports nothing above it; the build that puts it to work is :func:`ditto_data.pipeline.build`
(``from ditto_data import build``).
"""

from .config import BuildConfig, ConfigError, load_config
from .stage import ModelStageConfig, Resources, SampleError, Stage, StageConfig, StageContext, register_stage

__all__ = [
    "BuildConfig", "ConfigError", "ModelStageConfig", "Resources", "SampleError", "Stage", "StageConfig",
    "StageContext", "load_config", "register_stage",
]  # fmt: skip
