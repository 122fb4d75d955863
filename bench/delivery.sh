#!/usr/bin/env bash
# Delivery figures for bench/BASELINE.md: a fresh hookd per configuration,
# three runs each, medians printed last. Usage: bench/delivery.sh [hookd-binary]
set -euo pipefail
bin=${1:-./hookd}
run() { # maxBatchSize webhooks events [extra flags]
	local dir; dir=$(mktemp -d)
	HOOKD_DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true HOOKD_LOG_LEVEL=warn "$bin" serve --data "$dir/data" --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/log" &
	local pid=$!
	until grep -q listening "$dir/out" 2>/dev/null; do sleep 0.1; done
	local url; url=$(sed -n 's/hookd listening on //p' "$dir/out")
	echo "== maxBatchSize=$1 webhooks=$2 events=$3 ${*:4}"
	"$bin" bench deliver --url "$url" --max-batch-size "$1" --webhooks "$2" --events "$3" --runs 3 "${@:4}" | tail -4
	kill "$pid"; wait "$pid" || true; rm -rf "$dir"
}
run 1 1 100000
run 100 1 500000
run 1 100 2000
run 100 100 5000
run 1 1 50000 --rate 5000 --per-request 10
run 100 1 50000 --rate 5000 --per-request 10
