#!/usr/bin/env bash
# softroce/guest-ib-write-bw.sh - runs INSIDE the Soft-RoCE guest: ib_write_bw (perftest) server and
# client on rxe0, then prints perftest's header and result rows and one summary line. Arguments go to
# both sides (e.g. "-s 1048576 -n 500"). softroce/ib-write-bw.sh runs it in a VM of its own; other
# scripts run it in the same VM as what they compare with it.
#
# -x 1: GID index 1 is rxe's RoCE v2 IPv4-mapped address. -F: do not fail on the
# CPU frequency check, which is meaningless under emulation. The client starts only once the server
# listens on its TCP port (18515), since a fixed sleep is unreliable on an emulated CPU.
set -u
ib_write_bw -d rxe0 -x 1 -F "$@" >/tmp/server.out 2>&1 &
server=$!
for _ in $(seq 200); do
  ss -ltn 2>/dev/null | grep -q ":18515 " && break
  kill -0 $server 2>/dev/null || break
  sleep 0.1
done
ib_write_bw -d rxe0 -x 1 -F "$@" localhost >/tmp/client.out 2>&1
rc=$?
wait $server
src=$?
if [ $rc -ne 0 ] || [ $src -ne 0 ]; then
  echo "ib_write_bw failed (client exit $rc, server exit $src)" >&2
  echo "--- server:" >&2; cat /tmp/server.out >&2
  echo "--- client:" >&2; cat /tmp/client.out >&2
  exit 1
fi
# Header and result rows: the lines from "#bytes" to the closing dashes.
awk '/#bytes/ { on = 1 } on && /^-+$/ { exit } on' /tmp/client.out
awk '/#bytes/ { getline; printf "ib_write_bw rxe0 RC: %s-byte messages x %s, average %s MB/s (peak %s)\n", $1, $2, $4, $3; exit }' /tmp/client.out
