#!/usr/bin/env sh
# Builds the bundled iris example as the image docker-compose.yml runs (sagemaker-byoc-iris:latest):
# a throwaway project that depends on this repository packed with `npm pack`, as a user's project
# depends on the published package, then `sagemaker-byoc build` with the model baked in.
# Extra arguments go to `build` (e.g. --engine buildah, --base-image <image>). build prints the
# run and push commands for the image under that tag (`sagemaker-byoc run --image
# sagemaker-byoc-iris:latest`, `sagemaker-byoc push --image ...`), run from $work (push reads the
# repository name from its package.json).
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${BYOC_EXAMPLE_DIR:-$repo/.sagemaker-byoc/iris-example}"

rm -rf "$work"
mkdir -p "$work"
cd "$repo"
npm run --silent build
tarball="$(npm pack --ignore-scripts --silent --pack-destination "$work" .)"
cd "$work"
cat > package.json <<JSON
{ "name": "sagemaker-byoc-iris", "version": "1.0.0", "private": true, "type": "module",
  "dependencies": { "sagemaker-byoc-node": "file:./$tarball" } }
JSON
ONNXRUNTIME_NODE_INSTALL=skip npm install --package-lock-only --ignore-scripts --no-audit --no-fund >/dev/null
node "$repo/dist/cli.js" build --model "$repo/examples/iris/model" --tag sagemaker-byoc-iris:latest "$@"
