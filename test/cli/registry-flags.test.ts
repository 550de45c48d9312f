/**
 * parseRegistryFlags: `pd-node --role registry` with its defaults, every flag, and a bad value.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FlagError } from '../../src/cli/flag-values.js';
import { parseRegistryFlags } from '../../src/cli/registry-command.js';
import { DEFAULT_REGISTRY_PORT } from '../../src/cli/router-flags.js';

describe('parseRegistryFlags', () => {
  test('defaults: the default secret file (null), 127.0.0.1 and the default port', () => {
    assert.deepEqual(parseRegistryFlags(['--role', 'registry']), { host: '127.0.0.1', advertiseHost: null, port: DEFAULT_REGISTRY_PORT, clusterSecretFile: null, logLevel: 'info' });
  });

  test('every flag', () => {
    const flags = parseRegistryFlags(['--role', 'registry', '--host', '0.0.0.0', '--advertise-host', '10.1.2.3', '--registry-port', '6000', '--cluster-secret-file', '/etc/pd-node/secret', '--log-level', 'warn']);
    assert.deepEqual(flags, { host: '0.0.0.0', advertiseHost: '10.1.2.3', port: 6000, clusterSecretFile: '/etc/pd-node/secret', logLevel: 'warn' });
  });

  test('a wildcard --advertise-host is refused, naming the flag', () => {
    assert.throws(() => parseRegistryFlags(['--advertise-host', '0.0.0.0']), (err: unknown) => err instanceof FlagError && /--advertise-host must be an address peers can reach/.test(err.message));
  });

  test('an empty --cluster-secret-file is refused, naming the flag', () => {
    assert.throws(() => parseRegistryFlags(['--cluster-secret-file', '']), (err: unknown) => err instanceof FlagError && /--cluster-secret-file needs a non-empty value/.test(err.message));
  });
});
