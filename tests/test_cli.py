"""The command line behaves like the tools people know: --version, help, one-line errors, exit statuses,
global flags on either side of the command, nothing written before the arguments are checked."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ditto_data import __version__
from ditto_data.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "ditto_data.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd)


def test_version_and_help_describe_every_command():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"ditto-data {__version__}"
    top = cli("-h").stdout
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, parser in sub.choices.items():
        assert name in top
        assert parser.description and len(parser.description) > 20, name  # a description of its own
        assert "-v, --verbose" in parser.format_help(), name
    assert "exit status" in top


def test_global_flags_go_before_or_after_the_command(tmp_path):
    for argv in (["-v", "pack", str(tmp_path)], ["pack", str(tmp_path), "-v"], ["pack", "-v", str(tmp_path)]):
        assert build_parser().parse_args(argv).verbose is True, argv
    assert build_parser().parse_args(["pack", str(tmp_path)]).verbose is False


def test_usage_errors_exit_2_with_one_line_and_write_nothing(tmp_path):
    out = tmp_path / "out"
    r = cli("build", "--input", str(tmp_path / "missing"), "--out", str(out))
    assert r.returncode == 2 and "no such folder" in r.stderr and "Traceback" not in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no video here")
    r = cli("build", "--input", str(empty), "--out", str(out))
    assert r.returncode == 2 and r.stderr.splitlines() == [r.stderr.strip()] and "holds no video" in r.stderr
    assert not out.exists()  # nothing written before the arguments were checked
    r = cli("-v", "build", "--input", str(empty), "--out", str(out))
    assert r.returncode == 2 and "Traceback" in r.stderr and "NoVideosError" in r.stderr
    assert cli("build").returncode == 2 and cli("no-such-command").returncode == 2


def test_runtime_errors_exit_1_with_one_line(tmp_path):
    ds = tmp_path / "ds"
    (ds / "videos").mkdir(parents=True)
    (ds / "videos" / "local.tar.gz.01").write_bytes(b"not gzip at all" * 10)
    r = cli("extract", str(ds), "--quiet")
    assert r.returncode == 1 and r.stderr.startswith("ditto-data: error:") and len(r.stderr.splitlines()) == 1
    assert "local.tar.gz.01" in r.stderr and "Traceback" not in r.stderr


def test_interrupt_exits_130(monkeypatch, tmp_path, capsys):
    import ditto_data.cli as cli_mod

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_mod, "_cmd_pack", interrupted)
    assert main(["pack", str(tmp_path)]) == 130
    assert capsys.readouterr().err.strip() == "ditto-data: interrupted: finished work is kept; run the same command again to go on"


def test_logging_is_configured_on_the_package_logger_only(tmp_path, capsys):
    root_handlers = list(logging.getLogger().handlers)
    main(["extract", str(tmp_path), "--quiet"])
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger("ditto_data").handlers and logging.getLogger("ditto_data").level == logging.INFO
    logging.getLogger("urllib3.connectionpool").info("a dependency's chatter")
    logging.getLogger("ditto_data.hub").info("ours")
    err = capsys.readouterr().err
    assert "ours" in err and "chatter" not in err


@pytest.fixture(autouse=True)
def _reset_logger():
    yield
    pkg = logging.getLogger("ditto_data")
    pkg.handlers = [h for h in pkg.handlers if type(h).__name__ != "_StderrHandler"]
    pkg.setLevel(logging.NOTSET)
