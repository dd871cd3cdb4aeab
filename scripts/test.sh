#!/usr/bin/env sh
# The test command (npm test): build, type-check, run every test with a coverage gate.
# Runs on Node 24; on an older Node, as on a fresh machine that ships Node 20, it fetches Node 24
# from the npm registry into .cache/ first (scripts/fetch-node.sh). The journey test
# (test/journey/) also runs a new user's steps on Node 22, the oldest supported, fetched the same
# way, and checks that Node 20 is refused.
set -eu
cd "$(dirname "$0")/.."

sh scripts/install-system-deps.sh

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 22 ]; then
  echo "Node $(node --version) is too old for the tests; using Node 24" >&2
  PATH="$(sh scripts/fetch-node.sh 24):$PATH"
  export PATH
fi
# Fetched here, before the tests run in parallel, for the journey test (test/journey/).
for version in 20 22 24; do sh scripts/fetch-node.sh "$version" >/dev/null; done
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
