"""The catalog of dataset descriptions: the shipped ones (``<name>.yaml`` beside this module) and yours.

``describe(x)`` turns a catalog name, a YAML path or a :class:`Description` into a description;
``detect(root)`` finds the one whose metadata files a local folder has; ``for_repo(repo_id)`` the
one shipped for a Hub repo.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from .description import Archive, Description, DescriptionError, PathFix, slug

__all__ = ["Archive", "Description", "DescriptionError", "PathFix", "describe", "detect", "for_repo", "names",
           "shipped", "slug"]

DITTO = "ditto-1m"


@lru_cache(maxsize=None)
def shipped() -> dict[str, Description]:
    """Name -> description of every YAML file shipped in this package."""
    out = {}
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".yaml"):
            with resources.as_file(entry) as p:
                d = Description.from_yaml(p)
            out[d.name] = d
    return out


def names() -> list[str]:
    return sorted(shipped())


def describe(spec: str | Path | Description) -> Description:
    """A :class:`Description` from a catalog name, a ``.yaml`` file or a Description (returned as is)."""
    if isinstance(spec, Description):
        return spec
    s = str(spec)
    if s in shipped():
        return shipped()[s]
    p = Path(s).expanduser()
    if p.suffix in (".yaml", ".yml") or p.is_file():
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such description file")
        return Description.from_yaml(p)
    raise KeyError(f"no dataset description named {s!r}; shipped: {', '.join(names())} (or give a YAML file)")


def for_repo(repo_id: str) -> Description | None:
    """The shipped description of a Hub repo id, if any."""
    return next((d for d in shipped().values() if d.repo_id and d.repo_id.lower() == repo_id.lower()), None)


def detect(root: str | Path) -> Description:
    """The shipped description whose metadata files are in ``root`` (Ditto's tree first).

    Raises :class:`DescriptionError` when none or several match: then pass one explicitly.
    """
    root = Path(root)
    if (root / "training_metadata").is_dir():
        return shipped()[DITTO]
    hits = [d for d in shipped().values() if d.layout == "table" and any(
        next(root.glob(g), None) is not None for g in d.metadata)]
    if len(hits) == 1:
        return hits[0]
    why = (f"several shipped descriptions match ({', '.join(d.name for d in hits)})" if hits
           else "no shipped description's metadata files are here")
    raise DescriptionError(str(root), "description", f"{why}; pass description=NAME|FILE "
                           f"(shipped: {', '.join(names())})")
