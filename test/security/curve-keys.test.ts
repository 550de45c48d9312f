/**
 * CURVE keys from the cluster secret, on real ZeroMQ sockets: a client of the cluster gets an
 * answer; a client with another secret, one that learned the server's public key but not the
 * secret, and one without CURVE get nothing (and the second is refused by the ZAP handler, which
 * logs it); with no ZAP handler running, nobody gets in (fail closed).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Dealer, Router } from 'zeromq';
import { curveClientOptions, curveKeys, curveServerOptions, keyPairFromSeed, z85Encode, type CurveKeys } from '../../src/security/curve-keys.js';
import { admitClusterClients } from '../../src/security/zap-handler.js';

/** Whether a DEALER with `options` gets an echo from `url` within `ms`. */
async function answered(url: string, options: ConstructorParameters<typeof Dealer>[0], ms = 1500): Promise<boolean> {
  const socket = new Dealer({ linger: 0, receiveTimeout: ms, sendTimeout: ms, ...options });
  socket.connect(url);
  try {
    await socket.send('ping');
    const [reply] = await socket.receive();
    return reply.toString() === 'echo ping';
  } catch (err) {
    if ((err as { code?: string }).code === 'EAGAIN') return false;
    throw err;
  } finally {
    socket.close();
  }
}

async function echoServer(keys: CurveKeys): Promise<{ url: string; close(): void }> {
  const socket = new Router({ linger: 0, ...curveServerOptions(keys) });
  await socket.bind('tcp://127.0.0.1:0');
  void (async () => {
    for await (const [id, frame] of socket) await socket.send([id, `echo ${frame.toString()}`]);
  })().catch(() => undefined);
  return { url: socket.lastEndpoint!, close: () => socket.close() };
}

describe('CURVE keys', () => {
  test('Z85 matches the RFC 32 test vector; key pairs are derived, stable and distinct per use', () => {
    assert.equal(z85Encode(Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])), 'HelloWorld');
    const secret = randomBytes(32);
    const a = curveKeys(secret);
    assert.deepEqual(curveKeys(Buffer.from(secret)), a);
    assert.notEqual(a.server.publicKey, a.client.publicKey);
    assert.notEqual(curveKeys(randomBytes(32)).client.publicKey, a.client.publicKey);
    assert.match(a.server.publicKey, /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/);
    // X25519 of the base point's known answer (RFC 7748, Alice): node:crypto derives the same public key libsodium does.
    const alice = keyPairFromSeed(Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex'));
    assert.equal(alice.publicKey, z85Encode(Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex')));
  });

  test('only clients holding the cluster secret get in; the ZAP handler refuses one that only knows the server key', async () => {
    const lines: { msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const cluster = curveKeys(randomBytes(32));
    const stranger = curveKeys(randomBytes(32));
    const release = await admitClusterClients(cluster, log);
    const server = await echoServer(cluster);
    try {
      assert.equal(await answered(server.url, curveClientOptions(cluster)), true, 'a cluster client is answered');
      assert.equal(await answered(server.url, curveClientOptions(stranger)), false, 'another secret');
      assert.equal(await answered(server.url, { ...curveClientOptions(stranger), curveServerKey: cluster.server.publicKey }), false, 'the server key without the secret');
      assert.ok(lines.some((l) => /client refused: it does not hold the cluster secret/.test(l.msg)), `the ZAP handler refused it: ${JSON.stringify(lines)}`);
      assert.equal(await answered(server.url, {}), false, 'no CURVE');
    } finally {
      server.close();
      release();
    }
  });

  test('with no ZAP handler running, even a cluster client is refused', async () => {
    const cluster = curveKeys(randomBytes(32));
    const server = await echoServer(cluster);
    try {
      assert.equal(await answered(server.url, curveClientOptions(cluster)), false);
    } finally {
      server.close();
    }
  });
});
