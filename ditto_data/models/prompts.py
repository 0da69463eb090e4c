"""Versioned prompt files of the VLM backends (``prompts/<name>_v<N>.txt``) and their hashes.

A prompt is data, not code: changing its wording makes a new ``_v<N+1>`` file, and the sha256 of
the text used goes into the provenance of everything it produced.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_NAME = re.compile(r"^(?P<name>[a-z_]+)_v(?P<version>\d+)\.txt$")


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def id(self) -> str:
        return f"{self.name}_v{self.version}"

    def render(self, **values: object) -> str:
        """Fill ``$placeholders``; a missing value is an error (a prompt never goes out half-filled)."""
        return string.Template(self.text).substitute({k: str(v) for k, v in values.items()}).strip()


@lru_cache(maxsize=None)
def _all() -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for entry in resources.files(__package__).joinpath("prompts").iterdir():
        m = _NAME.match(entry.name)
        if m:
            out.setdefault(m["name"], {})[int(m["version"])] = entry.read_text(encoding="utf-8")
    return out


def load_prompt(name: str, version: int | None = None) -> Prompt:
    """The prompt ``name`` at ``version`` (the newest when None)."""
    versions = _all().get(name)
    if not versions:
        raise KeyError(f"no prompt named {name!r}; known: {', '.join(sorted(_all()))}")
    v = max(versions) if version is None else version
    if v not in versions:
        raise KeyError(f"prompt {name!r} has no version {v}; known: {sorted(versions)}")
    return Prompt(name, v, versions[v])
