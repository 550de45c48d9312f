#!/bin/sh
# softroce/initramfs-init.sh - /init of the busybox initramfs that softroce/setup.sh builds.
#
# Debian's kernel has virtio and 9p as modules, so before the host's root can be mounted they have to
# be loaded from the initramfs. Then: mount the host root read-only over 9p, mount the run's writable
# share on /run/softroce, hand /dev /proc /sys over and switch_root into the guest script that
# run.sh put in the share (softroce/guest-init.sh). Any failure powers the VM off at once so that
# run.sh reports "no exit code" with this console output instead of waiting for its timeout.

fail() {
  echo "softroce-initramfs: FAILED: $*"
  echo o >/proc/sysrq-trigger
  sleep 10
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for m in $(cat /modules/order); do
  insmod "/modules/$m.ko" || fail "insmod $m"
done

# msize 512000 makes large reads (node's binary, node_modules) far fewer round trips.
opts=trans=virtio,version=9p2000.L,msize=512000
# run.sh may ask for a page cache on the read-only root (softroce_root_cache=loose on the kernel
# command line): the host's files do not change under a short run, and re-reading them through 9p
# for every exec and every node module is what makes the guest slow.
rootopts="$opts,ro"
for arg in $(cat /proc/cmdline); do
  case "$arg" in softroce_root_cache=*) rootopts="$rootopts,cache=${arg#*=}" ;; esac
done
mount -t 9p -o "$rootopts" root /newroot || fail "mount 9p root (mount_tag=root)"
# /run of the host root is only an empty mount point here: put a tmpfs on it to hold the share.
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run || fail "tmpfs on /run"
mkdir -p /newroot/run/softroce
mount -t 9p -o "$opts" work /newroot/run/softroce || fail "mount 9p work share (mount_tag=work)"
[ -f /newroot/run/softroce/guest-init.sh ] || fail "run.sh did not provide guest-init.sh"

mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys

exec switch_root /newroot /bin/bash /run/softroce/guest-init.sh
fail "switch_root"
