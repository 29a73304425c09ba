#!/usr/bin/env bash
# README command 1: the whole topology as local processes (Postgres, Redis, Inference, Api, QueueWorker),
# the demo images pushed through it by several users, results and throughput printed, everything stopped after.
set -euo pipefail
cd "$(dirname "$0")/.."
source eng/prerequisites.sh
exec dotnet run -c Release --project perf/CellSeg.LoadGen -- demo "$@"
