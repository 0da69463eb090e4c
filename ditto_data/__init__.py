"""ditto-data: build, fetch, load and train on instruction-based video-editing datasets."""

__version__ = "0.1.0"
