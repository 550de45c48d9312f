#!/bin/bash
# softroce/guest-init.sh - PID 1 of the Soft-RoCE guest (run.sh copies it into the run's share and
# the initramfs switch_roots to it). The root file system is the host's, read-only over 9p.
#
# It prepares the guest (tmpfs mounts, modprobe wrapper, rdma_rxe on a dummy netdev as rxe0), runs
# the command described by the files run.sh wrote into the share, writes the exit code back there and
# powers the VM off. Whatever happens, the EXIT trap powers off, so a failure here ends the VM at
# once instead of leaving run.sh to wait for its timeout. Our own messages go to the console, which
# run.sh stores as console.log and prints when something went wrong.
set -uo pipefail

share=/run/softroce
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

power_off() {
  sync
  # As PID 1 we cannot just exit (that panics the kernel); sysrq "o" is an immediate power-off,
  # which makes qemu exit.
  echo o >/proc/sysrq-trigger
  sleep 60
}
trap power_off EXIT
exec </dev/null

say() { echo "softroce-guest: [$(cut -d' ' -f1 /proc/uptime)] $*"; }
# A set-up failure: tell run.sh what failed (it prints this and the console) and stop.
fail() {
  say "FAILED: $*"
  printf '%s\n' "$*" >"$share/setup-error"
  exit 1
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }

t_userspace="$(uptime_s)"

# ---- file systems ----------------------------------------------------------------------------
# The shared root is read-only: give the programs the writable places they expect.
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || fail "tmpfs on /tmp"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp || fail "tmpfs on /var/tmp"
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm || fail "tmpfs on /dev/shm"
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts || fail "devpts"
# The repository has a share of its own, mounted at its host path: a clone under /tmp (hidden by
# the tmpfs above) works as well as one elsewhere.
repo="$(<"$share/repo")"
mkdir -p "$repo" 2>/dev/null
mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,ro,cache=$(<"$share/repo_cache")" repo "$repo" || fail "mount 9p repo share at $repo"
ln -sf /proc/self/fd /dev/fd 2>/dev/null
hostname softroce 2>/dev/null

say "file systems mounted"
kdir="$(<"$share/kdir")"
kver="$(uname -r)"
[[ -d $kdir/lib/modules/$kver ]] || fail "no modules for $kver under $kdir (re-run softroce/setup.sh)"

# ---- kernel modules ----------------------------------------------------------------------------
# The host has no /lib/modules for this kernel, so every module load (ours and the kernel's own
# request_module calls, e.g. for "ip link add ... type dummy") must use modprobe -d on the unpacked
# package. /proc/sys/kernel/modprobe names the program the kernel runs for the latter.
modprobe_bin="$(command -v modprobe)" || fail "modprobe not found (package kmod)"
cat >/run/modprobe <<WRAPPER
#!/bin/sh
exec $modprobe_bin -d '$kdir' "\$@"
WRAPPER
chmod 755 /run/modprobe
echo /run/modprobe >/proc/sys/kernel/modprobe || fail "setting /proc/sys/kernel/modprobe"

# crc32_generic first: rdma_rxe asks the crypto API for "crc32" and does not pull the module in
# itself ("rdma_rxe: failed to init crc32 algorithm err:-2" otherwise).
# One modprobe for all: every start of it reads the module index over 9p.
/run/modprobe -a crc32_generic rdma_rxe ib_uverbs rdma_ucm dummy \
  || fail "modprobe -a crc32_generic rdma_rxe ib_uverbs rdma_ucm dummy"
say "modules loaded"

# ---- network + Soft-RoCE ------------------------------------------------------------------------
# No NIC (-nic none): rxe is bound to a dummy netdev, so RoCE traffic never leaves the kernel; both
# ends of a connection use the same device and GID, which is what loopback tests need.
ip link set lo up || fail "ip link set lo up"
ip link add dummy0 type dummy || fail "ip link add dummy0"
ip addr add 192.168.77.1/24 dev dummy0 || fail "ip addr add on dummy0"
ip link set dummy0 up || fail "ip link set dummy0 up"
rdma link add rxe0 type rxe netdev dummy0 || fail "rdma link add rxe0"

say "rxe0 added"
# The port goes ACTIVE and the IPv4-mapped RoCE v2 GID (index 1) appears asynchronously.
port=/sys/class/infiniband/rxe0/ports/1
for _ in $(seq 100); do
  if [[ -e /dev/infiniband/uverbs0 ]] && grep -q ACTIVE "$port/state" 2>/dev/null \
     && [[ $(cat "$port/gids/1" 2>/dev/null) == 0000:0000:0000:0000:0000:ffff:* ]]; then
    break
  fi
  sleep 0.1
done
[[ -e /dev/infiniband/uverbs0 ]] || fail "/dev/infiniband/uverbs0 did not appear"
grep -q ACTIVE "$port/state" || fail "rxe0 port 1 not ACTIVE: $(cat "$port/state")"
[[ $(cat "$port/gids/1") == 0000:0000:0000:0000:0000:ffff:* ]] || fail "rxe0 GID index 1 is not IPv4-mapped: $(cat "$port/gids/1")"

say "rxe0 ready"
# Memory registration pins pages; root has CAP_IPC_LOCK, but be explicit for children that drop it.
ulimit -l unlimited

# ---- the command ---------------------------------------------------------------------------------
mapfile -d '' -t argv <"$share/argv"
mapfile -d '' -t envv <"$share/env"
cwd="$(<"$share/cwd")"
limit="$(<"$share/timeout")"
mkdir -p /tmp/home
cd "$cwd" || fail "cd $cwd"

t_command="$(uptime_s)"
# Stop the command 10 s before run.sh's hard kill so that its output, exit code and the timeout
# message still come back through the share. timeout(1) signals the command's whole process group.
budget=$(awk -v l="$limit" -v u="$t_command" 'BEGIN { b = int(l - u - 10); print (b < 5 ? 5 : b) }')
timeout -k 3 "$budget" env -i "${envv[@]}" "${argv[@]}" >"$share/stdout" 2>"$share/stderr"
rc=$?
t_end="$(uptime_s)"
if ((rc == 124 || rc == 137)) && awk -v s="$t_command" -v e="$t_end" -v b="$budget" 'BEGIN { exit !(e - s >= b) }'; then
  echo "$budget" >"$share/timed-out"
fi
printf 'userspace=%s command=%s end=%s\n' "$t_userspace" "$t_command" "$t_end" >"$share/times"
echo "$rc" >"$share/rc"
exit 0
