#!/usr/bin/env bash
# softroce/ib-write-bw.sh - ib_write_bw (perftest) server + client on rxe0 inside the Soft-RoCE VM.
#
#   bash softroce/ib-write-bw.sh [--timeout SECS] [-- EXTRA_IB_WRITE_BW_ARGS...]
#
# Prints perftest's header and result rows (the MB/s figures) and one summary line, as the reference
# for the project's own RDMA WRITE throughput on the same device. Extra arguments go to both sides,
# e.g. "-- -s 1048576 -n 500" for 1 MiB messages. Defaults: RC, 64 KiB messages, 5000 iterations.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run_opts=()
while (($#)); do
  case "$1" in
    --timeout) run_opts+=(--timeout "${2:?--timeout needs seconds}"); shift 2 ;;
    --) shift; break ;;
    *) echo "softroce: error: unknown option '$1' (ib_write_bw arguments go after --)" >&2; exit 125 ;;
  esac
done

exec bash "$here/run.sh" ${run_opts[@]+"${run_opts[@]}"} -- bash "$here/guest-ib-write-bw.sh" "$@"
