/**
 * Compiles the C helpers of the verbs tests (abi-probe.c, fake-provider.c) against the installed
 * `<infiniband/verbs.h>` into a temporary directory.
 *
 * A missing compiler or missing verbs headers fail the test with the package to install (CI installs
 * them): the ABI check must not pass by being skipped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The C sources live next to this test's TypeScript source (the build does not copy them into dist). */
export function cSource(name: string): string {
  return fileURLToPath(new URL(`../../../test/verbs/${name}`, import.meta.url));
}

export class CBuild {
  readonly dir = mkdtempSync(join(tmpdir(), 'pd-node-verbs-'));

  /** `cc -std=gnu11 -Wall -Werror FLAGS -o DIR/OUTPUT SOURCE LIBS`; returns the output path. */
  compile(source: string, output: string, flags: readonly string[], libs: readonly string[] = []): string {
    const out = join(this.dir, output);
    const r = spawnSync('cc', ['-std=gnu11', '-Wall', '-Werror', ...flags, '-o', out, cSource(source), ...libs], { encoding: 'utf8' });
    if (r.error) throw new Error(`cannot run the C compiler "cc" (${r.error.message}): install gcc (Debian: apt-get install gcc libibverbs-dev)`);
    if (r.status !== 0) {
      const hint = /infiniband\/verbs\.h|-libverbs/.test(r.stderr) ? 'the libibverbs headers are missing: install libibverbs-dev (Debian/Ubuntu)' : 'see the compiler output';
      throw new Error(`cc ${source} failed, ${hint}:\n${r.stderr}`);
    }
    return out;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
