#!/usr/bin/env bash
# softroce/setup.sh - install and prepare everything softroce/run.sh needs.
#
# Idempotent: packages already installed are not reinstalled, and a kernel that is already unpacked,
# indexed and given an initramfs is reused. Run it again after a Debian security update and it picks up
# the new kernel package (the old cache entry is removed once the new one is complete).
#
# What it does:
#   1. apt-get installs qemu, rdma-core user space, perftest, busybox-static, kmod, cpio, ...
#   2. apt-get downloads the kernel package that the linux-image-amd64 meta package currently names
#      (never a hard-coded version) and unpacks it with dpkg -x into the cache: the host does not
#      install or boot that kernel, only qemu does.
#   3. depmod -b over the unpacked tree, so that modprobe -d works inside the guest.
#   4. builds a small busybox initramfs that loads virtio + 9p and switches to the host's root.
#
# Environment:
#   SOFTROCE_CACHE   cache folder (default: softroce/.cache next to this script). It must be visible
#                    inside the guest at the same path, so not under /tmp, /run or /var/tmp (tmpfs there).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=softroce/lib.sh
. "$here/lib.sh"

# Packages listed by SOFTROCE.md. qemu for the VM, rdma-core + providers for libibverbs/librxe in the
# guest (which runs this machine's user space), the utilities for the proofs and benchmarks, busybox
# for the initramfs, kmod for depmod/modprobe -d, cpio to pack the initramfs. xz-utils and zstd
# decompress kernel modules for busybox insmod if the kernel package ships them compressed.
packages=(qemu-system-x86 rdma-core ibverbs-utils ibverbs-providers perftest rdmacm-utils
          busybox-static iproute2 kmod cpio xz-utils zstd)

# The modules the initramfs must load before it can mount the host's root over 9p (SOFTROCE.md).
# Their dependencies are resolved from modules.dep below, so a kernel that splits or merges one of
# them still gets a complete, correctly ordered list.
initramfs_modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
                   netfs fscache 9pnet 9pnet_virtio 9p)

if [[ $(id -u) -ne 0 ]]; then
  die "setup.sh installs Debian packages and must run as root (try: sudo bash $0)"
fi
command -v apt-get >/dev/null || die "apt-get not found: this set-up expects a Debian host"
[[ $(dpkg --print-architecture) == amd64 ]] || die "only amd64 hosts are supported (the guest kernel is linux-image-amd64)"

check_guest_visible "$SOFTROCE_CACHE" "SOFTROCE_CACHE"
mkdir -p "$SOFTROCE_CACHE"

# Serialise concurrent set-ups (two CI jobs, two engineers) on the same cache.
exec 9>"$SOFTROCE_CACHE/.setup.lock"
flock 9

# Wait for a dpkg lock held by someone else instead of failing at once.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
export DEBIAN_FRONTEND=noninteractive

# ---- 1. packages -------------------------------------------------------------------------------
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
updated=0
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  apt-get "${apt_opts[@]}" update
  updated=1
  apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
else
  log "packages already installed"
fi

# ---- 2. kernel package -------------------------------------------------------------------------
# The meta package depends on the current ABI's image, e.g. "Depends: linux-image-6.1.0-56-amd64".
kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1
}
pkg="$(kernel_pkg)"
if [[ -z $pkg && $updated -eq 0 ]]; then
  # Package lists may be missing (fresh container) or too old to name an image: refresh and retry.
  apt-get "${apt_opts[@]}" update
  updated=1
  pkg="$(kernel_pkg)"
fi
[[ -n $pkg ]] || die "apt-cache depends linux-image-amd64 names no linux-image-* package; check the apt sources"
kver="${pkg#linux-image-}"
kdir="$SOFTROCE_CACHE/kernel-$kver"
log "guest kernel: $pkg"

if [[ -f $kdir/.complete ]]; then
  log "kernel $kver already prepared in $kdir"
else
  rm -rf "$kdir" "$kdir.tmp"
  mkdir -p "$kdir.tmp/debs"
  # apt downloads as the unprivileged _apt user when it can write the target folder.
  if id _apt >/dev/null 2>&1; then chown _apt "$kdir.tmp/debs"; fi
  # apt-get download writes into the current directory and verifies the package's hash.
  (cd "$kdir.tmp/debs" && apt-get "${apt_opts[@]}" download "$pkg") \
    || die "apt-get download $pkg failed"
  deb="$(ls "$kdir.tmp/debs"/*.deb)"
  mkdir -p "$kdir.tmp/root"
  dpkg -x "$deb" "$kdir.tmp/root"
  [[ -f $kdir.tmp/root/boot/vmlinuz-$kver ]] || die "$deb has no boot/vmlinuz-$kver"
  [[ -d $kdir.tmp/root/lib/modules/$kver ]] || die "$deb has no lib/modules/$kver"
  # The package's own postinst would run depmod; dpkg -x does not, so build modules.dep etc. here.
  depmod -b "$kdir.tmp/root" "$kver"
  rm -rf "$kdir.tmp/debs"   # the .deb is not needed any more once unpacked
  mv "$kdir.tmp" "$kdir"
fi

# ---- 3. initramfs ------------------------------------------------------------------------------
initrd="$kdir/initrd.cpio.gz"
if [[ -f $kdir/.complete && -f $initrd && $initrd -nt $here/initramfs-init.sh && $initrd -nt $here/setup.sh ]]; then
  log "initramfs up to date"
else
  busybox=/bin/busybox
  [[ -x $busybox ]] || die "$busybox missing (package busybox-static)"
  # A dynamically linked busybox would need its libraries in the initramfs too.
  if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked; install busybox-static (it replaces busybox)"
  fi
  stage="$(mktemp -d "$SOFTROCE_CACHE/initramfs.XXXXXX")"
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage"/{bin,dev,proc,sys,newroot,modules}
  cp "$busybox" "$stage/bin/busybox"
  for applet in sh mount mkdir insmod switch_root echo cat sleep; do
    ln -s busybox "$stage/bin/$applet"
  done
  cp "$here/initramfs-init.sh" "$stage/init"
  chmod 755 "$stage/init"
  # modprobe --show-depends prints "insmod PATH" in load order, dependencies first, and "builtin X"
  # for what the kernel has built in. Collect each module once.
  : >"$stage/modules/order"
  declare -A seen=()
  for m in "${initramfs_modules[@]}"; do
    out="$(modprobe -d "$kdir/root" -S "$kver" --show-depends "$m" 2>&1)" \
      || die "module $m not found in $pkg: $out"
    while read -r kind path _; do
      [[ $kind == insmod ]] || continue
      name="$(basename "$path")"
      name="${name%%.ko*}"
      [[ -z ${seen[$name]:-} ]] || continue
      seen[$name]=1
      # busybox insmod may lack xz/zstd support: store every module uncompressed.
      case "$path" in
        *.ko)     cp "$path" "$stage/modules/$name.ko" ;;
        *.ko.xz)  xz -dc "$path" >"$stage/modules/$name.ko" ;;
        *.ko.zst) zstd -qdc "$path" >"$stage/modules/$name.ko" ;;
        *.ko.gz)  gzip -dc "$path" >"$stage/modules/$name.ko" ;;
        *) die "unexpected module file $path" ;;
      esac
      echo "$name" >>"$stage/modules/order"
    done <<<"$out"
  done
  log "initramfs modules: $(tr '\n' ' ' <"$stage/modules/order")"
  (cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --quiet -o -0 -H newc -R 0:0) \
    | gzip -9 >"$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  rm -rf "$stage"
  trap - EXIT
fi

touch "$kdir/.complete"
# run.sh boots whatever "current" points to; switch it only now that everything is in place.
ln -sfn "kernel-$kver" "$SOFTROCE_CACHE/current"

# Drop kernels from earlier security updates.
for old in "$SOFTROCE_CACHE"/kernel-*; do
  [[ -d $old && $old != "$kdir" ]] || continue
  log "removing old kernel cache $old"
  rm -rf "$old"
done

log "ready: kernel $kver, initramfs $initrd"
log "try: bash $here/run.sh -- ibv_devices"
