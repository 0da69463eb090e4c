"""Validate a dataset card offline.

``huggingface_hub.DatasetCard.validate()`` posts the card to the Hub's ``/api/validate-yaml``
and so needs the network. Offline we check what that endpoint checks for our header: the YAML
parses with ``DatasetCard.load``, round-trips through ``DatasetCardData``, names a Hub license id
(``other`` with a ``license_name``), known task and size categories, and ``configs`` that
``datasets`` accepts (its own ``MetadataConfigs`` check) and whose data files exist beside the card.
``online=True`` also asks the Hub.
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Iterable
from pathlib import Path

#: License ids the Hub accepts in a card's ``license`` field.
HUB_LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0
cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0
cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0
cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl
gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr
mpl-2.0 odc-by odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma
unknown other
""".split())

#: Hub task categories a video dataset card may name.
VIDEO_TASKS = frozenset("""
video-to-video text-to-video image-to-video video-classification video-text-to-text visual-question-answering
image-to-image text-to-image image-to-text image-feature-extraction other
""".split())

_LICENSE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


class CardError(ValueError):
    """A card that the Hub (or ``datasets``) would not accept; the message lists every problem."""


def hub_tag_lists(endpoint: str | None = None) -> tuple[frozenset[str], frozenset[str]]:
    """(license ids, task categories) as the Hub lists them (``HfApi.get_dataset_tags``, needs the network).

    ``huggingface_hub`` ships no offline copy of these lists; :data:`HUB_LICENSES` and
    :data:`VIDEO_TASKS` are ours, and an online validation checks against the Hub's answer instead.
    """
    from huggingface_hub import HfApi

    tags = HfApi(endpoint=endpoint).get_dataset_tags()

    def ids(kind: str) -> frozenset[str]:
        return frozenset(str(t.get("id", "")).split(":", 1)[-1] for t in tags.get(kind, []) if isinstance(t, dict))

    return ids("license"), ids("task_categories")


def card_problems(path: str | Path, files: Iterable[str] | None = None,
                  lists: tuple[frozenset[str], frozenset[str]] | None = None) -> list[str]:
    """Every problem of the card at ``path`` (a README.md), checked offline; empty when valid.

    ``files``: the repo paths the card will sit among (``plan_publish``'s list). The configs' data
    files and the ``license_link`` are checked against them instead of the card's folder, since a
    publish leaves out files (loose videos of packed folders, the builder's state) that are on disk.
    ``lists``: (license ids, task categories) to check against instead of ours (:func:`hub_tag_lists`).
    """
    licenses_ok, tasks_ok = lists or (HUB_LICENSES, VIDEO_TASKS)
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard, DatasetCardData

    path = Path(path)
    try:
        card = DatasetCard.load(path)
    except Exception as e:  # noqa: BLE001 - the card's YAML, whatever is wrong with it
        return [f"YAML header does not parse: {e}"]
    data = card.data.to_dict()
    problems = []
    try:
        DatasetCardData(**data)
    except Exception as e:  # noqa: BLE001
        problems.append(f"metadata does not round-trip through DatasetCardData: {e}")

    licenses = data.get("license")
    licenses = [licenses] if isinstance(licenses, str) else licenses or []
    if not licenses:
        problems.append("license: missing")
    for lic in licenses:
        if lic not in licenses_ok:
            problems.append(f"license: {lic!r} is not a Hub license id")
    if "other" in licenses and not _LICENSE_NAME.match(str(data.get("license_name", ""))):
        problems.append("license_name: required (lowercase, digits, '-' and '.') when license is 'other'")
    link = data.get("license_link")
    if "other" in licenses and not link:
        problems.append("license_link: required when license is 'other' (a URL or a file in the repo)")
    elif link and "://" not in str(link) and not _matches(path.parent, str(link), files):
        problems.append(f"license_link: {link!r} is not a file in the repo")

    for task in _as_list(data.get("task_categories")):
        if task not in tasks_ok:
            problems.append(f"task_categories: {task!r} is not a known Hub task")
    if not data.get("task_categories"):
        problems.append("task_categories: missing")
    sizes = _size_categories()
    for size in _as_list(data.get("size_categories")):
        if size not in sizes:
            problems.append(f"size_categories: {size!r} is not one of {', '.join(sizes)}")

    configs = data.get("configs") or []
    try:
        MetadataConfigs.from_dataset_card_data(card.data)
    except Exception as e:  # noqa: BLE001
        problems.append(f"configs: datasets rejects them: {e}")
    names = [c.get("config_name") for c in configs if isinstance(c, dict)]
    if len(set(names)) != len(names):
        problems.append(f"configs: duplicate config_name in {names}")
    if sum(bool(c.get("default")) for c in configs if isinstance(c, dict)) > 1:
        problems.append("configs: more than one default")
    for c in configs:
        if isinstance(c, dict):
            problems.extend(_missing_data_files(path.parent, c, files))
    return problems


def validate_card(path: str | Path, online: bool = False, files: Iterable[str] | None = None) -> None:
    """Raise :class:`CardError` listing every problem of the card; ``online`` also asks the Hub.

    ``files``: see :func:`card_problems`.
    """
    problems = card_problems(path, files, hub_tag_lists() if online else None)
    if problems:
        raise CardError(f"{path}: " + "; ".join(problems))
    if online:
        from huggingface_hub import DatasetCard

        DatasetCard.load(path).validate()


def _as_list(v) -> list:
    return [v] if isinstance(v, str) else list(v or [])


def _size_categories() -> list[str]:
    import datasets.utils

    res = Path(datasets.utils.__file__).with_name("resources") / "size_categories.json"
    return json.loads(res.read_text())


def _pattern_re(pattern: str) -> re.Pattern:
    """A data_files pattern as ``datasets`` resolves it: ``*`` and ``?`` stay inside one folder, ``**`` crosses them."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def _matches(root: Path, pattern: str, files: Iterable[str] | None) -> bool:
    if files is None:
        return bool(glob.glob(str(root / pattern)))
    rx = _pattern_re(pattern.lstrip("./"))
    return any(rx.match(f) for f in files)


def _missing_data_files(root: Path, config: dict, files: Iterable[str] | None = None) -> list[str]:
    name = config.get("config_name")
    patterns: list[str] = []
    for item in _as_list(config.get("data_files")):
        patterns.extend(_as_list(item.get("path")) if isinstance(item, dict) else [item])
    where = "among the files to publish" if files is not None else "on disk"
    files = list(files) if files is not None else None
    return [f"configs[{name}]: data_files pattern {p!r} matches no file {where}"
            for p in patterns if not _matches(root, p, files)]
