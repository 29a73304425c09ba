#!/usr/bin/env bash
# README command 2: runs every test against real Postgres and Redis processes that the tests start themselves,
# then prints one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
source eng/prerequisites.sh

results=TestResults
rm -rf "$results"
status=0
# One test assembly at a time: the functional and model tests each keep both cores busy.
dotnet test CellSeg.Local.slnf -c Release -m:1 --logger trx --results-directory "$results" "$@" || status=$?

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build or a test host failed before any test could report: count that as a failure.
  failed=1
fi
echo "${passed} passed, ${failed} failed"
exit "$status"
