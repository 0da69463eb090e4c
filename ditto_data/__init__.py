"""ditto-data: build, fetch, load and train on instruction-based video-editing datasets."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``ditto_data.load`` without importing datasets/torch at ``import ditto_data`` time
    if name == "load":
        from .loaders.hf import load

        return load
    raise AttributeError(f"module 'ditto_data' has no attribute {name!r}")
