"""ditto-data: build, fetch, load and train on instruction-based video-editing datasets."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``ditto_data.load`` / ``build`` without importing datasets/torch at ``import ditto_data`` time
    if name == "load":
        from .loaders.hf import load

        return load
    if name in ("build", "BuildResult"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "load_config":
        from .builders.config import load_config

        return load_config
    raise AttributeError(f"module 'ditto_data' has no attribute {name!r}")
