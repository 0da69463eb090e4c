"""The pipeline machinery: Stage contract and registry, config, ledger, runners."""

from .config import BuildConfig, ConfigError, load_config
from .runner import BuildResult, build
from .stage import ModelStageConfig, Resources, SampleError, Stage, StageConfig, StageContext, register_stage

__all__ = [
    "BuildConfig", "BuildResult", "ConfigError", "ModelStageConfig", "Resources", "SampleError", "Stage", "StageConfig",
    "StageContext", "build", "load_config", "register_stage",
]  # fmt: skip
