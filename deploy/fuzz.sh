#!/usr/bin/env bash
# Runs every Fuzz target in the module for a bounded time each
# (default 10s; `make test` uses a short run, `make fuzz` a longer one).
# New crashers land in the package's testdata/fuzz and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The targets are read from the test files go list selects for this build,
# by their signature, rather than by `go test -list`, which builds and links
# every package's test binary to print the names (two minutes of the run
# for 71 packages, 21 targets).
targets() {
  go list -f '{{.ImportPath}} {{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./... |
    while read -r pkg dir files; do
      [ -n "$files" ] || continue
      (cd "$dir" && sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)([A-Za-z_][A-Za-z0-9_]* \*testing\.F) {.*/\1/p' $files) | sed "s|^|$pkg |"
    done
}
list=$(targets)
[ -n "$list" ] || { echo "fuzz: no Fuzz targets found" >&2; exit 1; }
while read -r pkg target; do
  echo "fuzz $pkg $target ($time)"
  # -fuzzminimizetime 0s: no minimizing. Go's coordinator minimizes every
  # input that finds new coverage, not only crashers, and its workers run
  # nothing else meanwhile; with a few seconds a target, the slower targets
  # spent most of theirs minimizing (FuzzInboundEnvelope: 40 executions in
  # 4 s, then none). A crasher is written as found, unminimized.
  if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime 0s -parallel 2 "$pkg" > "$log" 2>&1 </dev/null; then
    continue
  fi
  # Go's fuzzing coordinator before 1.27 can report its own -fuzztime
  # deadline as a failure ("context deadline exceeded") when the timer's
  # goroutine is preempted between cancelling the run's context and its
  # child (go.dev/issue/75804): the target has fuzzed for its whole time
  # and found nothing. Trying it again only fuzzed again, and could race
  # again: the run counts as ended. A crasher always writes its input to
  # testdata/fuzz first, and so still fails, as does any other error; the
  # seed corpus ran as tests in make test before this.
  if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
    echo "fuzz $pkg $target: ran its $time; Go's coordinator reported its own deadline as an error (go.dev/issue/75804), no failing input"
    continue
  fi
  cat "$log"; status=1
done <<< "$list"
exit $status
