#!/usr/bin/env bash
# softroce/selftest.sh - check that the Soft-RoCE harness works on this machine (after setup.sh).
#
#   bash softroce/selftest.sh
#
# Three VM boots (about a minute in all): rxe0 + RC ping-pong + node in one; the exit code of a
# failing command; a hanging command stopped at the timeout with a clear message.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="$here/run.sh"
out="$(mktemp -d "${TMPDIR:-/tmp}/softroce-selftest.XXXXXX")"
trap 'rm -rf "$out"' EXIT
failures=0
pass() { printf 'PASS  %s\n' "$1"; }
fail() { printf 'FAIL  %s\n' "$1"; failures=$((failures + 1)); }

# 1. One boot: the device, a real RC exchange on it, and the host's node.
# ibv_rc_pingpong's server listens on TCP 18515 for the address exchange; start the client only when
# it does (a fixed sleep is unreliable on an emulated CPU), and require both sides to succeed.
guest='
set -u
ibv_devices
ibv_rc_pingpong -g 1 -d rxe0 >/tmp/server.out 2>&1 &
server=$!
for _ in $(seq 200); do ss -ltn | grep -q ":18515 " && break; sleep 0.1; done
ibv_rc_pingpong -g 1 -d rxe0 localhost >/tmp/client.out 2>&1; client=$?
wait $server; server=$?
cat /tmp/client.out
echo "pingpong client=$client server=$server"
node -e "console.log(\"node \" + process.version)"
'
rc=0
bash "$run" --timeout 120 -- bash -c "$guest" >"$out/1.out" 2>"$out/1.err" || rc=$?
sed 's/^/      /' "$out/1.out"
grep -q '^ *rxe0 ' "$out/1.out" && pass "ibv_devices lists rxe0" || fail "ibv_devices lists rxe0 (run.sh exit $rc)"
grep -q 'pingpong client=0 server=0' "$out/1.out" && pass "ibv_rc_pingpong -g 1 -d rxe0 over localhost" || fail "ibv_rc_pingpong"
grep -qx "node $(node -p process.version)" "$out/1.out" && pass "the host's node runs in the guest" || fail "node in the guest"
[[ $rc -eq 0 ]] && pass "exit code 0 ($(grep -o 'host wall clock [0-9.]*s' "$out/1.err"))" || { fail "exit code $rc"; cat "$out/1.err"; }

# 2. A failing command fails the run with its own exit code.
rc=0
bash "$run" --quiet -- sh -c 'exit 3' || rc=$?
[[ $rc -eq 3 ]] && pass "the command's exit code comes back (3)" || fail "exit code of 'sh -c \"exit 3\"' came back as $rc"

# 3. A hanging command is stopped at the timeout, with a message, as exit 124.
rc=0
start=$SECONDS
bash "$run" --quiet --timeout 30 -- sleep 600 2>"$out/3.err" || rc=$?
took=$((SECONDS - start))
if [[ $rc -eq 124 ]] && grep -q TIMEOUT "$out/3.err" && ((took <= 35)); then
  pass "a hanging command is killed at --timeout 30 (exit 124 after ${took}s)"
else
  fail "hanging command: exit $rc after ${took}s"; cat "$out/3.err"
fi

if ((failures)); then
  echo "softroce selftest: $failures check(s) failed" >&2
  exit 1
fi
echo "softroce selftest: all checks passed"
