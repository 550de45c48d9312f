/**
 * Errors of the libibverbs bindings.
 *
 * Decisions:
 * - A failed verb throws a `VerbsError` naming the call and the errno: its name (`code`, e.g. ENOSYS)
 *   and glibc's strerror text, so callers branch on `code` and users read what went wrong.
 * - Verbs report errors two ways (see each man page): NULL/-1 with errno set (read with koffi.errno()
 *   right after the call, before any other FFI call), or the errno value as the return value.
 *   Callers pass the number either way.
 * - strerror comes from libc (always present where libibverbs is): the text matches what C tools print.
 */
import koffi from 'koffi';
import { getSystemErrorName } from 'node:util';

let strerrorFn: ((errno: number) => string) | undefined;

function strerror(errno: number): string {
  strerrorFn ??= koffi.load('libc.so.6').func('const char *strerror(int errnum)') as (errno: number) => string;
  return strerrorFn(errno);
}

/** A failed verb: `call` is what failed (e.g. `ibv_reg_mr`), `code` the errno name. */
export class VerbsError extends Error {
  readonly code: string;
  readonly text: string;

  /** `errno` 0: the verb reports failure without an errno (ibv_poll_cq); `what` says it all. */
  constructor(readonly call: string, readonly errno: number, what = `${call} failed`) {
    const code = errno > 0 ? getSystemErrorName(-errno) : '';
    const text = errno > 0 ? strerror(errno) : '';
    super(errno > 0 ? `${what}: ${text} (${code})` : what);
    this.name = 'VerbsError';
    this.code = code;
    this.text = text;
  }
}

/**
 * `ibv_post_send`/`ibv_post_recv` refused a work request: the ones before it (`posted` of them) were
 * posted and will complete; it and the ones after were not.
 */
export class PostError extends VerbsError {
  constructor(call: string, errno: number, readonly posted: number, total: number) {
    super(call, errno, `${call} failed at work request ${posted + 1} of ${total}`);
    this.name = 'PostError';
  }
}

/** libibverbs.so.1 could not be loaded (not installed, or not for this architecture). */
export class LibibverbsMissingError extends Error {
  constructor(soname: string, detail: string) {
    super(`${soname} is not installed or cannot be loaded (${detail}); install libibverbs1 and ibverbs-providers (Debian/Ubuntu) or rdma-core`);
    this.name = 'LibibverbsMissingError';
  }
}
