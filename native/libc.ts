/**
 * libc through koffi: the POSIX shared-memory calls and the memcpy the shm transfer backend needs, the
 * poll(2) / eventfd(2) calls a verbs completion poller sleeps and is woken with, and the socket
 * send buffer the tcp backend sizes (Node has no call for it).
 *
 * Decisions:
 * - Linux only (64-bit): the flag values below are Linux's (the same on x86-64 and arm64) and
 *   `off_t` is 64-bit. The library loads on first use, so importing this module costs nothing and a
 *   tcp-only node on another OS never touches it; on another OS the first call says so.
 * - Every binding checks its result and throws a `LibcError` carrying the errno name (`code`, e.g.
 *   ENOENT) and strerror's text, so callers can branch on `code` and users read a clear message. errno
 *   is read right after the failing call, before any other FFI call can overwrite it.
 * - Pointers are BigInt (koffi 3); mmap's failure value MAP_FAILED is (void *)-1, not NULL. memcpy
 *   alone takes its addresses as numbers (`addressOf`): it runs per write, and a BigInt per offset
 *   would allocate on that path.
 * - shm_open is in libc.so.6 since glibc 2.34; older glibc has it in librt.so.1, tried second.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { getSystemErrorName } from 'node:util';

export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NONBLOCK = 0o4000;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
const EWOULDBLOCK = 11;
const SEEK_END = 2;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;

/** A failed libc call: `code` is the errno name (ENOENT, EEXIST, ...). */
export class LibcError extends Error {
  constructor(readonly call: string, readonly errno: number, readonly code: string, detail: string) {
    super(`${call} failed: ${code} (${detail})`);
    this.name = 'LibcError';
  }
}

interface Bindings {
  shm_open(name: string, flags: number, mode: number): number;
  shm_unlink(name: string): number;
  ftruncate(fd: number, length: number): number;
  posix_fallocate(fd: number, offset: number, length: number): number;
  mmap(addr: null, length: number, prot: number, flags: number, fd: number, offset: number): bigint;
  munmap(addr: bigint, length: number): number;
  flock(fd: number, op: number): number;
  lseek(fd: number, offset: number, whence: number): number;
  close(fd: number): number;
  strerror(errno: number): string;
  poll(fds: Int16Array, nfds: number, timeoutMs: number): number;
  eventfd(initval: number, flags: number): number;
  eventfd_read(fd: number, value: BigUint64Array): number;
  eventfd_write(fd: number, value: bigint): number;
  setsockopt(fd: number, level: number, name: number, value: Int32Array, length: number): number;
  getsockopt(fd: number, level: number, name: number, value: Int32Array, length: Uint32Array): number;
  memcpy(dst: number, src: number, bytes: number): void;
}

let bindings: Bindings | undefined;

function load(): Bindings {
  if (bindings) return bindings;
  if (process.platform !== 'linux' || process.arch.endsWith('32')) {
    throw new Error(`libc is called only on 64-bit Linux (this is ${process.platform}/${process.arch}): the shm and verbs backends cannot run here (use --disaggregation-transfer-backend tcp), and tcp links keep the kernel's send buffer`);
  }
  const c = koffi.load('libc.so.6');
  const shmLib = hasSymbol(c, 'shm_open') ? c : koffi.load('librt.so.1');
  bindings = {
    shm_open: shmLib.func('int shm_open(const char *name, int oflag, uint32_t mode)'),
    shm_unlink: shmLib.func('int shm_unlink(const char *name)'),
    ftruncate: c.func('int ftruncate(int fd, int64_t length)'),
    posix_fallocate: c.func('int posix_fallocate(int fd, int64_t offset, int64_t len)'),
    mmap: c.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap: c.func('int munmap(void *addr, size_t length)'),
    flock: c.func('int flock(int fd, int op)'),
    lseek: c.func('int64_t lseek(int fd, int64_t offset, int whence)'),
    close: c.func('int close(int fd)'),
    strerror: c.func('const char *strerror(int errnum)'),
    // struct pollfd is { int fd; short events; short revents; }: passed as 4 shorts per entry.
    poll: c.func('int poll(void *fds, uint64_t nfds, int timeout)'),
    eventfd: c.func('int eventfd(unsigned int initval, int flags)'),
    eventfd_read: c.func('int eventfd_read(int fd, void *value)'),
    eventfd_write: c.func('int eventfd_write(int fd, uint64_t value)'),
    setsockopt: c.func('int setsockopt(int fd, int level, int name, void *value, uint32_t length)'),
    getsockopt: c.func('int getsockopt(int fd, int level, int name, void *value, void *length)'),
    // Addresses as uint64_t (the same registers as pointers on x86-64 and arm64), so numbers pass
    // without a BigInt; the result (dst again) is not read.
    memcpy: c.func('void memcpy(uint64_t dst, uint64_t src, size_t n)'),
  };
  return bindings;
}

function hasSymbol(lib: LibraryHandle, name: string): boolean {
  try {
    lib.func(`int ${name}(void)`);
    return true;
  } catch {
    return false;
  }
}

function fail(b: Bindings, call: string, errno: number): never {
  throw new LibcError(call, errno, getSystemErrorName(-errno), b.strerror(errno));
}

/** Opens (or with O_CREAT creates) a POSIX shared-memory object; returns its fd. */
export function shmOpen(name: string, flags: number, mode: number): number {
  const b = load();
  const fd = b.shm_open(name, flags, mode);
  if (fd < 0) fail(b, `shm_open(${name})`, koffi.errno());
  return fd;
}

export function shmUnlink(name: string): void {
  const b = load();
  if (b.shm_unlink(name) < 0) fail(b, `shm_unlink(${name})`, koffi.errno());
}

export function ftruncate(fd: number, bytes: number): void {
  const b = load();
  if (b.ftruncate(fd, bytes) < 0) fail(b, 'ftruncate', koffi.errno());
}

/** Backs [0, bytes) with real pages now (posix_fallocate returns its error instead of setting errno). */
export function fallocate(fd: number, bytes: number): void {
  const b = load();
  const err = b.posix_fallocate(fd, 0, bytes);
  if (err !== 0) fail(b, 'posix_fallocate', err);
}

/** Maps `bytes` of `fd` shared and read-write; returns the address. */
export function mmapShared(fd: number, bytes: number): bigint {
  const b = load();
  const addr = b.mmap(null, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr === MAP_FAILED) fail(b, 'mmap', koffi.errno());
  return addr;
}

export function munmap(addr: bigint, bytes: number): void {
  const b = load();
  if (b.munmap(addr, bytes) < 0) fail(b, 'munmap', koffi.errno());
}

/**
 * The size of the file open as `fd` (lseek to its end): one call and no allocation, where
 * fs.fstatSync builds a Stats object (about 1 us against 4-6 us; the shm sender asks before every write).
 */
export function fileSize(fd: number): number {
  const b = load();
  const size = b.lseek(fd, 0, SEEK_END);
  if (size < 0) fail(b, 'lseek', koffi.errno());
  return size;
}

/** flock(2); with LOCK_NB returns false when another open file holds a conflicting lock. */
export function flock(fd: number, op: number): boolean {
  const b = load();
  if (b.flock(fd, op) === 0) return true;
  const errno = koffi.errno();
  if (errno === EWOULDBLOCK && (op & LOCK_NB) !== 0) return false;
  fail(b, 'flock', errno);
}

/**
 * Asks for a socket send buffer of `bytes` (SO_SNDBUF, which also turns off the kernel's autotuning
 * of it) and returns the size the socket got: Linux doubles the request for its bookkeeping and caps
 * it at net.core.wmem_max.
 */
export function setSendBuffer(fd: number, bytes: number): number {
  const b = load();
  const value = Int32Array.of(bytes);
  if (b.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, value, 4) < 0) fail(b, 'setsockopt(SO_SNDBUF)', koffi.errno());
  const length = Uint32Array.of(4);
  if (b.getsockopt(fd, SOL_SOCKET, SO_SNDBUF, value, length) < 0) fail(b, 'getsockopt(SO_SNDBUF)', koffi.errno());
  return value[0];
}

export function close(fd: number): void {
  const b = load();
  if (b.close(fd) < 0) fail(b, 'close', koffi.errno());
}

const POLLIN = 1;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EINTR = 4;

/**
 * A fixed set of file descriptors to wait on with poll(2), allocation-free per call: `fds` is the
 * struct pollfd array itself (per entry: the int fd as two int16 halves, events, revents).
 */
export class PollSet {
  private readonly fds: Int16Array;
  private readonly words: Int32Array;

  constructor(fdList: readonly number[]) {
    this.words = new Int32Array(fdList.length * 2);
    this.fds = new Int16Array(this.words.buffer);
    fdList.forEach((fd, i) => {
      this.words[2 * i] = fd;
      this.fds[4 * i + 2] = POLLIN;
    });
  }

  /**
   * poll(2): waits up to `timeoutMs` (-1: forever) for any fd to be readable; returns how many are
   * (0 on timeout, or when a signal interrupted the wait).
   */
  wait(timeoutMs: number): number {
    const b = load();
    for (let i = 0; i < this.fds.length; i += 4) this.fds[i + 3] = 0;
    const n = b.poll(this.fds, this.fds.length / 4, timeoutMs);
    if (n >= 0) return n;
    const errno = koffi.errno();
    if (errno === EINTR) return 0;
    fail(b, 'poll', errno);
  }

  /** Whether entry `i` was readable at the last `wait`. */
  readable(i: number): boolean {
    return (this.fds[4 * i + 3] & POLLIN) !== 0;
  }
}

/** A non-blocking eventfd(2): a counter another thread can bump to wake a poll(2). */
export function eventFd(): number {
  const b = load();
  const fd = b.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) fail(b, 'eventfd', koffi.errno());
  return fd;
}

/** Adds 1 to an eventfd's counter (wakes its pollers). */
export function eventFdSignal(fd: number): void {
  const b = load();
  if (b.eventfd_write(fd, 1n) < 0) fail(b, 'eventfd_write', koffi.errno());
}

const drained = new BigUint64Array(1);

/** Resets an eventfd's counter to 0; false if it was already 0. */
export function eventFdDrain(fd: number): boolean {
  const b = load();
  if (b.eventfd_read(fd, drained) === 0) return true;
  const errno = koffi.errno();
  if (errno === EWOULDBLOCK) return false;
  fail(b, 'eventfd_read', errno);
}

/**
 * The address of `buffer`'s first byte as a number, for `copyMemory`. Exact: user-space addresses
 * on 64-bit Linux are below 2^47 (2^56 with 5-level paging), far below 2^53, checked anyway. Valid
 * as long as the buffer lives (an ArrayBuffer's memory never moves).
 */
export function addressOf(buffer: ArrayBufferLike): number {
  if (buffer.byteLength === 0) throw new Error('an empty buffer has no address to copy to or from');
  return exactAddress(koffi.address(new Uint8Array(buffer, 0, 1)) as bigint);
}

/** `addr` (a BigInt pointer, such as an ShmRegion's) as a number, for `copyMemory`. */
export function exactAddress(addr: bigint): number {
  const n = Number(addr);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`address 0x${addr.toString(16)} cannot be held exactly as a number`);
  return n;
}

/**
 * memcpy(3) of `bytes` from address `src` to address `dst` (numbers from `addressOf` /
 * `exactAddress`). Nothing is checked here: the caller must have checked both ranges against the
 * memory they belong to, since a wrong one corrupts this process or faults.
 */
export function copyMemory(dst: number, src: number, bytes: number): void {
  load().memcpy(dst, src, bytes);
}

/** An ArrayBuffer over `bytes` of external memory at `addr` (no copy; invalid once unmapped). */
export function viewOf(addr: bigint, bytes: number): ArrayBuffer {
  return koffi.view(addr, bytes);
}
