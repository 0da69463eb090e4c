"""Selective downloads against olah (a real Hub-compatible server) serving a Ditto-1M look-alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_servers import Olah, git, git_repo_from_tree, make_ditto_tree, repo_files

from ditto_data.hub import download, plan_download

ROOT = Path(__file__).resolve().parents[1]
REPO_ID = "QingyanBai/Ditto-1M"
SECRET = "hf_SeCrEtT0kenThatMustNeverBePrinted"

pytest.importorskip("olah")


@pytest.fixture(scope="module")
def ditto(tmp_path_factory, media_dir):
    """(olah endpoint, repo tree at main, extracted videos tree, tree at tag v1)."""
    base = tmp_path_factory.mktemp("ditto_hub")
    tree, extracted = make_ditto_tree(base / "src", media_dir)
    mirror = base / "mirrors" / "datasets" / REPO_ID
    readme_v2 = (tree / "README.md").read_text()
    (tree / "README.md").write_text("---\nlicense: cc-by-nc-sa-4.0\n---\n# Ditto-1M look-alike (v1)\n")
    git_repo_from_tree(tree, mirror)
    git(mirror, "tag", "v1")
    (tree / "README.md").write_text(readme_v2)
    (mirror / "README.md").write_text(readme_v2)
    git(mirror, "commit", "-q", "-am", "card v2")
    with Olah(base / "mirrors", base / "olah") as server:
        yield server.endpoint, tree, extracted


@pytest.fixture()
def hub_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")


def _downloaded(out: Path) -> dict[str, bytes]:
    return repo_files(out)


def _expect(tree: Path, keep) -> dict[str, bytes]:
    return {k: v for k, v in repo_files(tree).items() if keep(k)}


def _is_video(k: str, *folders: str) -> bool:
    return any(k.startswith(f"videos/{f}.tar.gz.") for f in folders)


PRESET_RULES = {
    "metadata": lambda k: k == "README.md" or k.split("/")[0] in (
        "source_video_captions", "training_metadata", "csvs_for_DiffSynth"),
    "mini": lambda k: k.startswith("mini_test_videos/"),
    "local": lambda k: _is_video(k, "source", "local"),
    "global": lambda k: _is_video(k, "source", "global_style1", "global_style2", "global_freeform1",
                                  "global_freeform2", "global_freeform3"),
    "style": lambda k: _is_video(k, "source", "global_style1", "global_style2"),
}


@pytest.mark.parametrize("preset", sorted(PRESET_RULES))
def test_each_preset_fetches_exactly_its_files(ditto, hub_env, tmp_path, preset):
    endpoint, tree, _ = ditto
    out = tmp_path / "out"
    download(REPO_ID, out, presets=[preset], endpoint=endpoint, progress=False)
    expected = _expect(tree, PRESET_RULES[preset])
    assert expected, "the fixture repo has files for every preset"
    assert _downloaded(out) == expected


def test_include_exclude_and_presets_combine(ditto, hub_env, tmp_path):
    endpoint, tree, _ = ditto
    out = tmp_path / "out"
    download(REPO_ID, out, presets=["mini"], include=["training_metadata/local*.json"], exclude=["*replace*"],
             endpoint=endpoint, progress=False)
    assert sorted(_downloaded(out)) == ["mini_test_videos/case1_edited.mp4", "mini_test_videos/case1_source.mp4",
                                        "training_metadata/local.json"]


def test_revision_selects_the_tagged_files(ditto, hub_env, tmp_path):
    endpoint, _, _ = ditto
    download(REPO_ID, tmp_path / "v1", include=["README.md"], revision="v1", endpoint=endpoint, progress=False)
    download(REPO_ID, tmp_path / "main", include=["README.md"], endpoint=endpoint, progress=False)
    assert "(v1)" in (tmp_path / "v1" / "README.md").read_text()
    assert "(v2)" in (tmp_path / "main" / "README.md").read_text()


def test_plan_lists_sizes_and_rerun_fetches_only_missing(ditto, hub_env, tmp_path):
    endpoint, tree, _ = ditto
    out = tmp_path / "out"
    plan = plan_download(REPO_ID, out, presets=["local"], endpoint=endpoint)
    expected = _expect(tree, PRESET_RULES["local"])
    assert [f.path for f in plan.files] == sorted(expected)
    assert plan.total_bytes == sum(len(v) for v in expected.values()) == plan.to_fetch_bytes
    assert not out.exists() or not _downloaded(out), "a plan downloads nothing"

    download(REPO_ID, out, presets=["local"], endpoint=endpoint, progress=False)
    assert plan_download(REPO_ID, out, presets=["local"], endpoint=endpoint).to_fetch_bytes == 0
    lost = out / "videos" / "local.tar.gz.01"
    lost.unlink()
    again = plan_download(REPO_ID, out, presets=["local"], endpoint=endpoint)
    assert [f.path for f in again.files if not f.present] == ["videos/local.tar.gz.01"]
    download(REPO_ID, out, presets=["local"], endpoint=endpoint, progress=False)
    assert _downloaded(out) == expected


def _cli(args: list[str], endpoint: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_ENDPOINT": endpoint, "HF_TOKEN": SECRET,
           "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_DISABLE_XET": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "ditto_data.cli", "-v", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path)


def test_cli_dry_run_lists_files_and_total_without_fetching_or_leaking_the_token(ditto, tmp_path):
    endpoint, tree, _ = ditto
    out = tmp_path / "out"
    r = _cli(["download", REPO_ID, "--out", str(out), "--preset", "style", "--dry-run"], endpoint, tmp_path)
    assert r.returncode == 0, r.stderr
    expected = _expect(tree, PRESET_RULES["style"])
    for name in expected:
        assert name in r.stdout
    assert "mini_test_videos" not in r.stdout and "local.tar.gz" not in r.stdout
    total = sum(len(v) for v in expected.values())
    assert f"{len(expected)} files" in r.stdout and f"{total / 1000:.1f} kB in total" in r.stdout
    assert not out.exists() or not _downloaded(out)
    assert SECRET not in r.stdout + r.stderr


def test_cli_download_extract_gives_the_loader_layout(ditto, tmp_path):
    endpoint, _, extracted = ditto
    out = tmp_path / "out"
    r = _cli(["download", REPO_ID, "--out", str(out), "--preset", "local", "--preset", "metadata", "--extract",
              "--quiet"], endpoint, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert SECRET not in r.stdout + r.stderr
    got = {k: v for k, v in repo_files(out / "videos").items() if k.endswith(".mp4")}
    want = {k: v for k, v in repo_files(extracted).items() if k.startswith(("source/", "local/"))}
    assert got == want
    assert (out / "training_metadata" / "local.json").is_file()
