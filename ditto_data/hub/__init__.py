"""Fetch, extract, pack and publish Ditto-style datasets on the Hugging Face Hub.

``download`` (selective snapshot downloads with presets), ``extract`` (Ditto-1M split archives,
safely and resumably, no merged file), ``pack`` (our video folders as split archives) and
``publish`` (resumable upload). Importing this package stays light: huggingface_hub is imported
inside the functions that need it.
"""

from .download import DownloadPlan, download, plan_download
from .errors import HubError
from .extract import ExtractReport, extract, extract_described, extract_zip, repair_doubled_layout
from .pack import PackResult, pack, parse_size
from .parts import ArchiveError, GunzipParts, SplitArchive, find_split_archives
from .presets import PRESETS, patterns_for
from .publish import PublishError, PublishPlan, PublishResult, plan_publish, publish, validate_card

__all__ = [
    "PRESETS", "ArchiveError", "DownloadPlan", "ExtractReport", "GunzipParts", "HubError", "PackResult",
    "PublishError", "PublishPlan", "PublishResult", "SplitArchive", "download", "extract", "find_split_archives",
    "extract_described", "extract_zip", "pack", "parse_size", "patterns_for", "plan_download", "plan_publish",
    "publish", "repair_doubled_layout",
    "validate_card",
]  # fmt: skip
