# softroce/lib.sh - helpers shared by the softroce scripts (sourced, not run).

# Where setup.sh keeps the unpacked kernel and the initramfs. The guest reads kernel modules from it
# through the read-only 9p share of /, so it has to live at a path the guest sees unchanged.
SOFTROCE_CACHE="${SOFTROCE_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.cache}"

log() { printf 'softroce: %s\n' "$*" >&2; }
die() { printf 'softroce: error: %s\n' "$*" >&2; exit 125; }

# The repository, which run.sh shares with the guest as a 9p mount of its own at the same path.
SOFTROCE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The guest mounts fresh tmpfs on /tmp, /run and /var/tmp and its own /dev, /proc, /sys, so host
# paths below those are not visible in the guest, except inside the repository (its own share).
# Refuse the others early with a clear message.
check_guest_visible() { # PATH WHAT
  local p
  p="$(realpath -m -- "$1")"
  case "$p/" in "$SOFTROCE_REPO"/*) return 0 ;; esac
  case "$p/" in
    /tmp/*|/run/*|/var/tmp/*|/dev/*|/proc/*|/sys/*)
      die "$2 is $p, which the guest cannot see (it has its own tmpfs on /tmp, /run, /var/tmp); use a path elsewhere" ;;
  esac
}
