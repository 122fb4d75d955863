#!/usr/bin/env bash
# Ingest figures for bench/BASELINE.md: a fresh hookd, three runs of each
# load, medians printed last. Usage: bench/ingest.sh [hookd-binary]
set -euo pipefail
bin=${1:-./hookd}
dir=$(mktemp -d)
HOOKD_LOG_LEVEL=warn "$bin" serve --data "$dir/data" --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
until grep -q listening "$dir/out" 2>/dev/null; do sleep 0.1; done
url=$(sed -n 's/hookd listening on //p' "$dir/out")
b() { echo "== $*"; "$bin" bench ingest --url "$url" --duration 5s --runs 3 "$@" | tail -1; }
b --clients 64 --batch 1
b --clients 64 --batch 100
b --clients 64 --batch 1 --rate 15000
b --clients 64 --batch 100 --rate 50000
