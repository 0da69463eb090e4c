"""Does a refactor change what a build writes? Build the same clips with two revisions and compare.

    .venv/bin/python scripts/same_output.py REV_BEFORE [REV_AFTER] [--config configs/small.yaml] [--clips N]

Each revision is checked out into a temporary git worktree and builds the sample clips
(``ditto_data.samples``) with the same config, in its own process, into its own folder. Every file
of the two outputs is compared byte for byte, the builder's state included (ledger, artifacts,
records), except what measures the run rather than the data: ``.ditto/stage_times.json``
(wall-clock seconds) and ``.ditto/export/`` (a probe cache keyed by mtimes). REV_AFTER defaults
to the working tree. Prints the differing files and exits 1 if there are any.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ditto_data.atomic import link_or_copy  # noqa: E402
from ditto_data.samples import fetch  # noqa: E402

# what measures the run, not the data: wall-clock seconds, and a probe cache keyed by file mtimes
MEASURED = (".ditto/stage_times.json", ".ditto/export/")
BUILD = "from ditto_data{mod} import build, load_config; import sys; build(sys.argv[1], sys.argv[2], load_config(sys.argv[3]), progress=False)"


def tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.relative_to(out).as_posix().startswith(MEASURED)}


def build_at(src: Path, inp: Path, out: Path, config: Path) -> None:
    # the build function moved from ditto_data.builders to ditto_data (pipeline); either works
    mod = "" if (src / "ditto_data" / "pipeline.py").is_file() else ".builders"
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-c", BUILD.format(mod=mod), str(inp), str(out), str(config)],
                   cwd=src, env=env, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", help="git revision to compare against")
    ap.add_argument("after", nargs="?", help="git revision (default: the working tree)")
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "small.yaml")
    ap.add_argument("--clips", type=int, default=0, help="use only the first N sample clips (0: all)")
    args = ap.parse_args()
    clips = sorted(p for p in fetch().iterdir() if p.is_file())
    clips = clips[: args.clips] if args.clips else clips
    with tempfile.TemporaryDirectory(prefix="same-output-") as tmp:
        tmp = Path(tmp)
        inp = tmp / "input"
        inp.mkdir()
        for c in clips:
            link_or_copy(c, inp / c.name)
        sides = {}
        for label, rev in (("before", args.before), ("after", args.after)):
            if rev is None:
                src = ROOT
            else:
                src = tmp / f"src-{label}"
                subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(src), rev], check=True)
            try:
                build_at(src, inp, tmp / f"out-{label}", args.config.resolve())
            finally:
                if rev is not None:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(src)], check=True)
            sides[label] = tree(tmp / f"out-{label}")
        a, b = sides["before"], sides["after"]
        differ = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
        only = sorted(a.keys() ^ b.keys())
        print(f"{len(clips)} clips, {args.config.name}: {len(a)} files before, {len(b)} after")
        for k in differ:
            print(f"  differs: {k}")
        for k in only:
            print(f"  only {'before' if k in a else 'after'}: {k}")
        if differ or only:
            return 1
        print("identical: every file, byte for byte")
        return 0


if __name__ == "__main__":
    sys.exit(main())
