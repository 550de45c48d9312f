#!/usr/bin/env bash
# softroce/run.sh - run one command as root inside a qemu VM that has a real Soft-RoCE device (rxe0).
#
#   bash softroce/run.sh [OPTIONS] -- COMMAND [ARGS...]
#
# The VM boots Debian's kernel (prepared by softroce/setup.sh) under TCG, mounts this machine's root
# file system read-only over 9p (so node, node_modules, dist/ are at the same paths), creates rxe0 on a
# dummy netdev and runs COMMAND in the repo directory. COMMAND's stdout and stderr are streamed to
# this script's stdout and stderr, and its exit code is this script's exit code.
#
# Options:
#   --timeout SECS      hard limit for the whole VM run, boot included (default 240). The command is
#                       stopped about 10 s earlier inside the guest so its output still comes back;
#                       a guest that does not stop by SECS is killed. Either way: exit 124.
#   --env NAME=VALUE    set a variable for COMMAND (repeatable); --env NAME passes the host's value.
#   --cwd DIR           working directory in the guest (default: the repo root).
#   --scratch-out DIR   copy the guest's scratch folder ($SOFTROCE_SCRATCH) to DIR afterwards.
#   --root-cache MODE   9p cache mode of the read-only root: loose (default; the guest keeps what it
#                       has read, many times faster for node) or none (always re-read from the host,
#                       use it if host files change while the VM runs and the guest must see that).
#   --console           print the guest console (kernel + set-up messages) even on success.
#   --quiet             no timing summary line.
#
# In the guest COMMAND sees: SOFTROCE_GUEST=1, SOFTROCE_DEVICE=rxe0, SOFTROCE_GID_INDEX=1,
# SOFTROCE_IP=192.168.77.1, SOFTROCE_SCRATCH (writable, on the host until the run ends), HOME=/tmp/home,
# the host's PATH; /tmp, /var/tmp, /dev/shm are tmpfs; everything else is read-only.
#
# Exit codes: COMMAND's own; 124 on timeout; 125 if the harness or the guest set-up failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
# shellcheck source=softroce/lib.sh
. "$here/lib.sh"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 125; }

timeout_s=240
cwd="$repo"
scratch_out=""
show_console=0
root_cache=loose
quiet=0
guest_env=()
while (($#)); do
  case "$1" in
    --timeout) [[ ${2:-} =~ ^[0-9]+$ && $2 -ge 20 ]] || die "--timeout needs a number of seconds >= 20"
               timeout_s="$2"; shift 2 ;;
    --timeout=*) set -- --timeout "${1#*=}" "${@:2}" ;;
    --env|-e)  [[ -n ${2:-} ]] || die "--env needs NAME=VALUE or NAME"
               if [[ $2 == *=* ]]; then guest_env+=("$2")
               else [[ -v $2 ]] || die "--env $2: not set on the host"; guest_env+=("$2=${!2}"); fi
               shift 2 ;;
    --cwd)     [[ -n ${2:-} ]] || die "--cwd needs a directory"; cwd="$(realpath -- "$2")"; shift 2 ;;
    --scratch-out) [[ -n ${2:-} ]] || die "--scratch-out needs a directory"; scratch_out="$2"; shift 2 ;;
    --root-cache) [[ ${2:-} == loose || ${2:-} == none ]] || die "--root-cache takes loose or none"
               root_cache="$2"; shift 2 ;;
    --console) show_console=1; shift ;;
    --quiet)   quiet=1; shift ;;
    -h|--help) usage ;;
    --)        shift; break ;;
    *)         die "unknown option '$1' (the command goes after --; see --help)" ;;
  esac
done
(($#)) || die "no command given: bash softroce/run.sh [OPTIONS] -- COMMAND [ARGS...]"

# ---- prerequisites (all made by setup.sh) -------------------------------------------------------
qemu="$(command -v qemu-system-x86_64)" || die "qemu-system-x86_64 not found: run 'bash softroce/setup.sh' (as root) first"
kdir="$SOFTROCE_CACHE/current"
[[ -f $kdir/.complete ]] || die "no prepared guest kernel in $SOFTROCE_CACHE: run 'bash softroce/setup.sh' (as root) first"
kdir="$(realpath "$kdir")"
vmlinuz="$(ls "$kdir"/root/boot/vmlinuz-* 2>/dev/null | head -n1)"
[[ -n $vmlinuz && -f $kdir/initrd.cpio.gz ]] || die "kernel cache $kdir is incomplete: re-run 'bash softroce/setup.sh'"
[[ -d $cwd ]] || die "--cwd $cwd is not a directory"
check_guest_visible "$kdir" "the kernel cache"
check_guest_visible "$cwd" "the working directory"

# ---- the run's share ---------------------------------------------------------------------------
# One writable 9p share per run carries the command in and stdout, stderr, exit code and the console
# out. It is removed afterwards, as is qemu: the EXIT trap below covers errors and Ctrl-C too.
run="$(mktemp -d "${TMPDIR:-/tmp}/softroce.XXXXXX")"
[[ $run != *,* ]] || die "temp dir $run contains a comma, which qemu's -virtfs cannot take"
qemu_pid=""
tail_pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill -KILL "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  for p in "${tail_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$run"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

cp "$here/guest-init.sh" "$run/guest-init.sh"
mkdir "$run/scratch"
chmod 777 "$run/scratch"
printf '%s' "$kdir/root" >"$run/kdir"   # the unpacked package: lib/modules/VERSION
printf '%s' "$cwd" >"$run/cwd"
printf '%s' "$SOFTROCE_REPO" >"$run/repo"
printf '%s' "$root_cache" >"$run/repo_cache"
printf '%s' "$timeout_s" >"$run/timeout"
# NUL-separated, so any argument or value survives unchanged (the guest reads them with mapfile -d '').
printf '%s\0' "$@" >"$run/argv"
printf '%s\0' "PATH=$PATH" HOME=/tmp/home TMPDIR=/tmp TERM=dumb LANG=C.UTF-8 \
  SOFTROCE_GUEST=1 SOFTROCE_DEVICE=rxe0 SOFTROCE_GID_INDEX=1 SOFTROCE_IP=192.168.77.1 \
  SOFTROCE_SCRATCH=/run/softroce/scratch ${guest_env[@]+"${guest_env[@]}"} >"$run/env"
: >"$run/stdout"
: >"$run/stderr"
: >"$run/console.log"

# ---- qemu -----------------------------------------------------------------------------------------
# TCG always: /dev/kvm exists on these machines but does not work with their kernel (qemu aborts or
# hangs), so never pick KVM just because the device node is there.
# The console goes to a file rather than -nographic's stdio: the command's output stays clean and
# the caller's terminal is not switched to raw mode. -nic none: no traffic leaves the VM.
# -no-reboot + panic=-1: a kernel panic ends qemu at once instead of rebooting.
# tsc=reliable: under TCG the kernel's TSC sync check fails and it falls back to the emulated HPET,
# every read of which goes through qemu's device emulation. TCG derives the TSC of all vCPUs from one
# host clock, so it is consistent across them, and clock reads (node's hrtime, event-loop timing)
# got about twice as fast (4.0 -> 2.2 us per process.hrtime.bigint() in the guest).
# softroce_root_cache is read by the initramfs (initramfs-init.sh); SOFTROCE_APPEND adds kernel
# parameters for debugging.
qemu_args=(
  -accel tcg,thread=multi -cpu max -m 2048 -smp 2
  -nodefaults -no-user-config -display none -monitor none -no-reboot
  -serial "file:$run/console.log"
  -nic none
  -kernel "$vmlinuz" -initrd "$kdir/initrd.cpio.gz"
  -append "console=ttyS0 panic=-1 quiet loglevel=4 tsc=reliable softroce_root_cache=$root_cache ${SOFTROCE_APPEND:-}"
  -virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$run,mount_tag=work,security_model=none"
  -virtfs "local,path=$SOFTROCE_REPO,mount_tag=repo,security_model=none,readonly=on,multidevs=remap"
)
t0=$(date +%s.%N)
"$qemu" "${qemu_args[@]}" </dev/null >"$run/qemu.out" 2>&1 &
qemu_pid=$!

# Stream the command's output while it runs (the guest writes through 9p straight into these files).
# tail exits by itself shortly after qemu does, having printed what was left.
tail -n +1 -s 0.2 --pid="$qemu_pid" -f "$run/stdout" &
tail_pids+=($!)
tail -n +1 -s 0.2 --pid="$qemu_pid" -f "$run/stderr" >&2 &
tail_pids+=($!)

# Hard timeout for the whole VM. Polling keeps this script responsive to Ctrl-C (a trap runs only
# between commands) and avoids another helper process to clean up.
timed_out=0
deadline=$(( $(date +%s) + timeout_s ))
while kill -0 "$qemu_pid" 2>/dev/null; do
  if (( $(date +%s) >= deadline )); then
    timed_out=1
    kill -TERM "$qemu_pid" 2>/dev/null || true
    sleep 1
    kill -KILL "$qemu_pid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=""
wait "${tail_pids[@]}" 2>/dev/null || true
tail_pids=()
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

print_console() { # why
  log "$1; guest console (last 60 lines):"
  tail -n 60 "$run/console.log" | tr -d '\r' | sed 's/^/  | /' >&2
  if [[ -s $run/qemu.out ]]; then
    log "qemu said:"
    sed 's/^/  | /' "$run/qemu.out" >&2
  fi
}

# ---- result -----------------------------------------------------------------------------------------
cmd_desc="$*"
if [[ -n $scratch_out ]]; then
  mkdir -p "$scratch_out" && cp -a "$run/scratch/." "$scratch_out/" || log "could not copy the scratch folder to $scratch_out"
fi
if ((timed_out)); then
  print_console "guest did not power off within --timeout ${timeout_s}s"
  log "TIMEOUT: killed the VM after ${timeout_s}s (command: $cmd_desc)"
  exit 124
fi
if [[ -f $run/setup-error ]]; then
  print_console "guest set-up failed: $(<"$run/setup-error")"
  exit 125
fi
if [[ ! -f $run/rc ]]; then
  print_console "the VM stopped without reporting an exit code (qemu exit status $qemu_rc)"
  exit 125
fi
rc="$(<"$run/rc")"
((show_console)) && print_console "console"
if [[ -f $run/timed-out ]]; then
  log "TIMEOUT: the command was still running after $(<"$run/timed-out")s in the guest and was killed (--timeout ${timeout_s}s for the whole VM; command: $cmd_desc)"
  exit 124
fi
if ((!quiet)); then
  # Guest uptimes: kernel start -> user space -> command start -> command end.
  read -r t_user t_cmd t_end < <(sed 's/[a-z]*=//g' "$run/times")
  log "$(awk -v u="$t_user" -v c="$t_cmd" -v e="$t_end" -v w="$wall" -v rc="$rc" 'BEGIN {
    printf "exit %d; host wall clock %.1fs (kernel to user space %.1fs, rxe0 set-up %.1fs, command %.1fs)", rc, w, u, c - u, e - c }')"
fi
exit "$rc"
