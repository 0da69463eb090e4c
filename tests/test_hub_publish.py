"""Publishing through huggingface_hub's real upload path to a small upload endpoint, then downloading
the result back through olah: same files. Interrupted publishes resume; a second publish sends nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hub_servers import DITTO_VIDEOS, Olah, UploadHub, repo_files

from ditto_data.hub import PublishError, download, pack, plan_publish, publish

ROOT = Path(__file__).resolve().parents[1]
REPO_ID = "me/my-ditto"
SECRET = "hf_SeCrEtT0kenThatMustNeverBePrinted"
CARD = """---
license: cc-by-4.0
task_categories:
- video-to-video
configs:
- config_name: global_style
  data_files: training_metadata/global_style.json
---
# my-ditto

A small Ditto-style dataset.
"""


@pytest.fixture(autouse=True)
def no_xet(monkeypatch, tmp_path):
    """Against a local server the upload must take the regular/LFS path, not Xet storage."""
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


@pytest.fixture()
def dataset(tmp_path, media_dir):
    """A built and packed dataset: card, metadata, loose videos, split archives and builder state."""
    out = tmp_path / "ds"
    for rel, clip in DITTO_VIDEOS.items():
        if rel.split("/")[0] in ("source", "local"):
            (out / "videos" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(media_dir / clip, out / "videos" / rel)
    (out / "training_metadata").mkdir()
    (out / "training_metadata" / "local.json").write_text('[{"source_path": "source/0000/a.mp4"}]\n')
    (out / "training_metadata" / "global_style.json").write_text("[]\n")
    (out / "csvs_for_DiffSynth").mkdir()
    (out / "csvs_for_DiffSynth" / "local.csv").write_text("video,prompt,vace_video\n")
    (out / "README.md").write_text(CARD)
    (out / ".ditto" / "ledger").mkdir(parents=True)
    (out / ".ditto" / "ledger" / "part-0.jsonl").write_text("{}\n")
    pack(out, "40KB", progress=False)
    return out


def _published_tree(hub: UploadHub) -> dict[str, bytes]:
    return repo_files(hub.repo_dir(REPO_ID))


def test_plan_leaves_out_state_and_loose_videos_and_puts_the_card_last(dataset):
    plan = plan_publish(dataset)
    paths = [f.path for f in plan.files]
    assert paths[-1] == "README.md"
    assert not [p for p in paths if p.startswith(".ditto/") or p.endswith(".mp4") or ".tmp-" in p]
    assert {p for p in paths if ".tar.gz." in p} == {p.relative_to(dataset).as_posix()
                                                     for p in (dataset / "videos").glob("*.tar.gz.*")}
    assert sorted(plan.left_out) == sorted(f"videos/{r}" for r in DITTO_VIDEOS if r.startswith(("source/", "local/")))
    with_loose = [f.path for f in plan_publish(dataset, include_loose_videos=True).files]
    assert set(with_loose) - set(paths) == set(plan.left_out)


def test_publish_then_download_round_trip_gives_the_same_files(dataset, tmp_path):
    plan = plan_publish(dataset)
    with UploadHub(tmp_path / "hub") as hub:
        res = publish(dataset, REPO_ID, endpoint=hub.endpoint, token="hf_test", batch_files=4)
        assert hub.count("POST", r"/api/repos/create$") == 1
        assert hub.count("POST", r"/api/validate-yaml$") == 1  # the card, checked by the Hub before its commit
        lfs = [f for f in plan.files if f.path.endswith(".tar") or ".tar.gz." in f.path]
        assert hub.count("PUT", r"^/lfs-upload/") == len(lfs)
        assert res.commits == len(hub.commits) == -(-len(plan.files) // 4)
        assert hub.commits[-1][-1] == "README.md"
    expected = {f.path: (dataset / f.path).read_bytes() for f in plan.files}
    assert _published_tree(hub) == expected
    with Olah(hub.root, tmp_path / "olah") as olah:
        out = tmp_path / "back"
        download(REPO_ID, out, endpoint=olah.endpoint, progress=False)
    assert repo_files(out) == expected


def test_interrupted_publish_resumes_and_a_second_publish_sends_nothing(dataset, tmp_path):
    plan = plan_publish(dataset)
    with UploadHub(tmp_path / "hub", fail_commits={2}) as hub:
        with pytest.raises(Exception, match="simulated interruption"):
            publish(dataset, REPO_ID, endpoint=hub.endpoint, token="hf_test", batch_files=4)
        first = list(hub.commits)
        assert len(first) == 1 and len(first[0]) == 4
        puts_before = hub.count("PUT", r"^/lfs-upload/")
        uploaded_lfs = puts_before  # objects of batch 1 and of the failed batch 2 are on the server

        res = publish(dataset, REPO_ID, endpoint=hub.endpoint, token="hf_test", batch_files=4)
        resent = hub.commits[1:]
        assert sorted(p for c in resent for p in c) == sorted(f.path for f in plan.files if f.path not in first[0])
        assert sorted(res.sent) == sorted(p for c in resent for p in c) and res.unchanged == 4
        new_puts = hub.count("PUT", r"^/lfs-upload/") - puts_before
        lfs = [f for f in plan.files if f.path.endswith(".tar") or ".tar.gz." in f.path]
        assert new_puts == len(lfs) - uploaded_lfs
        assert _published_tree(hub) == {f.path: (dataset / f.path).read_bytes() for f in plan.files}

        n_commits, n_puts = len(hub.commits), hub.count("PUT", r"^/lfs-upload/")
        again = publish(dataset, REPO_ID, endpoint=hub.endpoint, token="hf_test", batch_files=4)
        assert (len(hub.commits), hub.count("PUT", r"^/lfs-upload/")) == (n_commits, n_puts)
        assert again.sent == [] and again.commits == 0 and again.unchanged == len(plan.files)

        (dataset / "training_metadata" / "local.json").write_text("[]\n")  # one change: one file sent
        changed = publish(dataset, REPO_ID, endpoint=hub.endpoint, token="hf_test", batch_files=4)
        assert changed.sent == ["training_metadata/local.json"] and hub.commits[-1] == changed.sent


def test_invalid_card_is_refused_before_anything_is_sent(dataset, tmp_path):
    (dataset / "README.md").write_text("---\nlicense: [unclosed\n---\n# bad\n")
    with UploadHub(tmp_path / "hub") as hub:
        with pytest.raises(PublishError, match=r"invalid dataset card .*README\.md: .*YAML header"):
            publish(dataset, REPO_ID, endpoint=hub.endpoint, token="hf_test")
        assert hub.requests == []


def test_card_that_is_not_a_mapping_is_refused(dataset):
    (dataset / "README.md").write_text("---\n- just\n- a list\n---\n")
    with pytest.raises(PublishError, match=r"invalid dataset card .*README\.md: .*YAML header"):
        publish(dataset, REPO_ID, endpoint="http://127.0.0.1:9", token="hf_test")


def _cli(args: list[str], endpoint: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_ENDPOINT": endpoint, "HF_TOKEN": SECRET,
           "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_DISABLE_XET": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "ditto_data.cli", "-v", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path)


def test_cli_publish_dry_run_and_publish_never_print_the_token(dataset, tmp_path):
    with UploadHub(tmp_path / "hub") as hub:
        dry = _cli(["publish", str(dataset), "--repo-id", REPO_ID, "--dry-run"], hub.endpoint, tmp_path)
        assert dry.returncode == 0, dry.stderr
        assert hub.requests == [], "a dry run contacts nobody"
        for f in plan_publish(dataset).files:
            assert f.path in dry.stdout
        assert ".ditto" not in dry.stdout and "loose videos left out" in dry.stdout
        r = _cli(["publish", str(dataset), "--repo-id", REPO_ID], hub.endpoint, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "published" in r.stdout
        assert hub.commits
    for out in (dry, r):
        assert SECRET not in out.stdout + out.stderr
