/**
 * Which kernel this process runs on, for the shm backend's same-host check: two processes can share
 * a POSIX shared-memory segment only under one kernel. The kernel's boot id (random per boot, the
 * same in every container on that kernel) says exactly that, where /etc/machine-id would differ
 * between containers of one host and be equal on machines cloned from one image. (One kernel is
 * necessary, not sufficient: containers in separate IPC namespaces see separate /dev/shm; opening the
 * segment then fails, with its own message.)
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function localHostId(): string {
  cached ??= readBootId();
  return cached;
}

function readBootId(): string {
  try {
    return `boot-${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}`;
  } catch {
    // no /proc (not Linux, or locked down): nothing proves another process shares this kernel
    return `pid-${process.pid}`;
  }
}
