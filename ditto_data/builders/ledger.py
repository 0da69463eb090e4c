"""The ledger: each stage's finished records, appended durably, so a build can resume.

Layout: ``OUT/.ditto/ledger/<stage>/<fingerprint>/part-<hash>.jsonl``. A part holds the results of
one batch, one line per input record: ``{"input": id, "outputs": [record, ...]}``. Parts are
written atomically (temporary name, fsync, rename), so a killed build leaves whole parts or none;
the part's name is the hash of its input ids, so redoing a batch rewrites the same part.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .. import atomic, layout
from ..schema import Record, content_id

log = logging.getLogger(__name__)


class Ledger:
    def __init__(self, out_dir: str | Path):
        self.root = layout.ledger_dir(out_dir)

    def _dir(self, stage: str, fingerprint: str) -> Path:
        return self.root / stage / fingerprint

    def load(self, stage: str, fingerprint: str) -> dict[str, list[Record]]:
        """Input id -> its output records, for every input this stage finished under ``fingerprint``."""
        done: dict[str, list[Record]] = {}
        d = self._dir(stage, fingerprint)
        if not d.is_dir():
            return done
        for part in sorted(d.glob("part-*.jsonl")):
            for line in part.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                done[entry["input"]] = [Record.from_dict(o) for o in entry["outputs"]]
        return done

    def append(self, stage: str, fingerprint: str, results: dict[str, list[Record]]) -> dict[str, list[Record]]:
        """Durably record finished inputs; returns the results as they read back from disk.

        Reading back through JSON means a fresh run and a resumed run hand identical records on.
        """
        if not results:
            return {}
        lines = [atomic.json_str({"input": k, "outputs": [r.to_dict() for r in v]})
                 for k, v in sorted(results.items())]
        name = f"part-{content_id(*sorted(results))}.jsonl"
        atomic.write_text(self._dir(stage, fingerprint) / name, "\n".join(lines) + "\n")
        return {json.loads(line)["input"]: [Record.from_dict(o) for o in json.loads(line)["outputs"]]
                for line in lines}
