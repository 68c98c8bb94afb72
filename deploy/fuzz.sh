#!/usr/bin/env bash
# Runs every Fuzz target in the module for a bounded time each
# (default 10s; `make test` uses a short run, `make fuzz` a longer one).
# New crashers land in the package's testdata/fuzz and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
status=0
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($time)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime 2s -parallel 2 "$pkg" > /tmp/kopir-fuzz.log 2>&1; then
      cat /tmp/kopir-fuzz.log; status=1
    fi
  done
done
exit $status
