/**
 * Garbage on the wire never crashes the registry: each bad frame gets a clear error reply (or, past
 * ZeroMQ's hard cap, a disconnect), the table stays untouched, and a good client works afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Dealer } from 'zeromq';
import { MAX_FRAME_BYTES } from '../../src/registry/messages.js';
import type { RegistryReply } from '../../src/registry/protocol.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { startRegistry, type RegistryServer } from '../../src/registry/registry-server.js';
import { curveClientOptions } from '../../src/security/curve-keys.js';
import { ask, curve, log, nodeRecord, rawDealer } from './support.js';

function assertError(reply: RegistryReply, code: string, seq: number, message: RegExp): void {
  assert.equal(reply.type, 'error', JSON.stringify(reply));
  if (reply.type !== 'error') return;
  assert.equal(reply.code, code);
  assert.equal(reply.seq, seq);
  assert.match(reply.message, message);
}

describe('registry bad input', () => {
  let server: RegistryServer;

  before(async () => {
    server = await startRegistry({ host: '127.0.0.1', port: 0, curve, log });
  });

  after(() => server.close());

  it('a frame over the hard cap never reaches the registry (no reply, not even an error)', async () => {
    // No reconnect: once ZeroMQ drops this peer, nothing it sends can reach the registry again.
    const socket = new Dealer({ linger: 0, reconnectInterval: -1, receiveTimeout: 500, ...curveClientOptions(curve) });
    socket.connect(server.url);
    try {
      await socket.send(Buffer.alloc(2 * 1024 * 1024, 0x7b));
      await assert.rejects(socket.receive(), { code: 'EAGAIN' });
    } finally {
      socket.close();
    }
  });

  it('answers each malformed frame with a precise error', async () => {
    const socket = rawDealer(server.url);
    try {
      assertError(await ask(socket, 'not json'), 'bad_request', 0, /not JSON/);
      assertError(await ask(socket, JSON.stringify([1, 2])), 'bad_request', 0, /message must be an object/);
      assertError(await ask(socket, JSON.stringify({ v: 2, seq: 5, type: 'query' })), 'version', 5, /version 2 is not supported/);
      assertError(await ask(socket, JSON.stringify({ seq: 6, type: 'query' })), 'bad_request', 6, /v is missing/);
      assertError(await ask(socket, JSON.stringify({ v: 1, seq: -1, type: 'query' })), 'bad_request', 0, /seq must be/);
      assertError(await ask(socket, JSON.stringify({ v: 1, seq: 7, type: 'register' })), 'bad_request', 7, /register\.node must be an object/);
      const badUrl = { ...nodeRecord('x', 'decode', 33000), httpUrl: 42 };
      assertError(await ask(socket, JSON.stringify({ v: 1, seq: 8, type: 'register', node: badUrl })), 'bad_request', 8, /^register\.node\.httpUrl must be a string$/);
      const badPort = { ...nodeRecord('x', 'prefill', 33000), bootstrapPort: 70000 };
      assertError(await ask(socket, JSON.stringify({ v: 1, seq: 9, type: 'register', node: badPort })), 'bad_request', 9, /register\.node\.bootstrapPort must be null or an integer in \[1, 65535\]/);
      assertError(await ask(socket, JSON.stringify({ v: 1, seq: 10, type: 'query', role: 'router' })), 'bad_request', 10, /query\.role must be one of prefill, decode/);
      assertError(await ask(socket, JSON.stringify({ v: 1, seq: 11, type: 'heartbeat' })), 'bad_request', 11, /heartbeat\.id must be a string/);
      assertError(await ask(socket, JSON.stringify({ v: 1, seq: 13, type: 'register', node: nodeRecord('x', 'decode', 33000) })), 'bad_request', 13, /^register\.owner must be a string$/);
      assertError(await ask(socket, JSON.stringify({ v: 1, seq: 14, type: 'deregister', id: 'x', owner: 'ABC' })), 'bad_request', 14, /^deregister\.owner must be 32 lower-case hex digits$/);
      assertError(await ask(socket, JSON.stringify({ v: 1, seq: 12, type: 'bogus' })), 'bad_request', 12, /unknown request type "bogus"/);
      assertError(await ask(socket, Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20)), 'bad_request', 0, /exceeds the 65536-byte limit/);
      assertError(await ask(socket, ['{}', '{}']), 'bad_request', 0, /expected one frame, got 2/);
    } finally {
      socket.close();
    }
    assert.equal(server.epoch, 0);
    assert.deepEqual(server.nodes(), []);
  });

  it('a good client still works afterwards, and its queries filter by role and by id', async () => {
    const client = RegistryClient.connect(server.url, { curve, log });
    const other = RegistryClient.connect(server.url, { curve, log });
    try {
      const rec = nodeRecord('good', 'prefill', 33100);
      const dec = nodeRecord('good-decode', 'decode', 33101);
      await client.register(rec);
      await other.register(dec);
      assert.deepEqual(new Set(await client.query()), new Set([rec, dec]));
      assert.deepEqual(await client.query({ role: 'decode' }), [dec]);
      assert.deepEqual(await client.query({ id: 'good' }), [rec]);
      assert.deepEqual(await client.query({ role: 'decode', id: 'good' }), []);
      await other.deregister();
    } finally {
      client.close();
      other.close();
    }
  });

  it('a client refuses to send an invalid record', async () => {
    const client = RegistryClient.connect(server.url, { curve, log });
    try {
      const bad = { ...nodeRecord('bad', 'decode', 33200), bootstrapPort: 0 };
      await assert.rejects(client.register(bad), /invalid node record: node\.bootstrapPort must be null or an integer in \[1, 65535\]/);
      const huge = { ...nodeRecord('huge', 'decode', 33201), controlAddr: 'x'.repeat(MAX_FRAME_BYTES) };
      await assert.rejects(client.register(huge), /exceeds the registry's 65536-byte frame limit/);
      assert.equal((await client.query()).find((n) => n.id === 'bad'), undefined);
    } finally {
      client.close();
    }
  });
});
