#!/usr/bin/env bash
# behavior_drift_gate.sh: the CI behaviour drift gate (a thin wrapper around
# `driftlake gate`, spec/telemetry-correlation.md §8).
#
#   scripts/ci/behavior_drift_gate.sh --warn            # report every drift >= low, pass
#   scripts/ci/behavior_drift_gate.sh --fail            # exit 1 on a high row or > 5 medium rows
#   scripts/ci/behavior_drift_gate.sh --fail --max-medium 3 --from 2026-05-01 --to 2026-05-07
#
# Environment:
#   DRIFTLAKE_BIN   the binary (default: `driftlake` on PATH, else the repo's release build)
#   DRIFTLAKE_LAKE  the lake when no --lake is given (default ./lake; s3://… works with AWS_* set)
# Under GitHub Actions (GITHUB_ACTIONS=true) the output is workflow annotations
# unless a --format is given.
#
# Exit codes: 0 pass, 1 drift over the limits (--fail only), 2 the gate could
# not run (no lake, no behavior_summary rows in the window). CI must treat 2
# as "broken", not as "drift".
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${DRIFTLAKE_BIN:-}
if [ -z "$bin" ]; then
    if command -v driftlake >/dev/null 2>&1; then
        bin=driftlake
    elif [ -x "${CARGO_TARGET_DIR:-$here/../../target}/release/driftlake" ]; then
        bin="${CARGO_TARGET_DIR:-$here/../../target}/release/driftlake"
    else
        echo "behavior_drift_gate: no driftlake binary (set DRIFTLAKE_BIN or put it on PATH)" >&2
        exit 2
    fi
fi

args=("$@")
has_format=0
has_lake=0
for a in "$@"; do
    case "$a" in
        --format | --format=*) has_format=1 ;;
        --lake | --lake=*) has_lake=1 ;;
    esac
done
if [ "${GITHUB_ACTIONS:-}" = "true" ] && [ "$has_format" = 0 ]; then
    args+=(--format github)
fi
if [ "$has_lake" = 0 ]; then
    args+=(--lake "${DRIFTLAKE_LAKE:-./lake}")
fi
exec "$bin" gate "${args[@]}"
