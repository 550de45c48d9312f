import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClusterSecretError, defaultSecretPath, deriveKey, loadClusterSecret } from '../../src/security/cluster-secret.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pd-secret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the default secret is created private on first use and the same afterwards', (t) => {
  const dir = tempDir(t);
  const env = { PD_NODE_CONFIG_DIR: join(dir, 'cfg') };
  const first = loadClusterSecret(null, env);
  assert.equal(first.source, defaultSecretPath(env));
  assert.equal(first.key.length, 32);
  assert.equal(statSync(first.source).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'cfg')).mode & 0o777, 0o700);
  assert.deepEqual(loadClusterSecret(null, env).key, first.key);
});

test('a named file must exist, be private and hold 64 hex digits', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 's');
  assert.throws(() => loadClusterSecret(file, {}), /does not exist/);
  writeFileSync(file, 'ab'.repeat(32) + '\n', { mode: 0o644 });
  chmodSync(file, 0o644);
  assert.throws(() => loadClusterSecret(file, {}), (e: Error) => e instanceof ClusterSecretError && /can be read by others.*chmod 600/.test(e.message));
  chmodSync(file, 0o600);
  assert.deepEqual(loadClusterSecret(file, {}).key, Buffer.alloc(32, 0xab));
  writeFileSync(file, 'not hex');
  assert.throws(() => loadClusterSecret(file, {}), /64 hex digits/);
  // The environment names the file when no flag does.
  writeFileSync(file, 'cd'.repeat(32));
  assert.deepEqual(loadClusterSecret(null, { PD_NODE_CLUSTER_SECRET_FILE: file }).key, Buffer.alloc(32, 0xcd));
  assert.equal(readFileSync(file, 'utf8'), 'cd'.repeat(32));
});

test('derived keys differ per use and per secret', () => {
  const a = Buffer.alloc(32, 1);
  const b = Buffer.alloc(32, 2);
  assert.notDeepEqual(deriveKey(a, 'x'), deriveKey(a, 'y'));
  assert.notDeepEqual(deriveKey(a, 'x'), deriveKey(b, 'x'));
  assert.deepEqual(deriveKey(a, 'x'), deriveKey(a, 'x'));
});
