/**
 * A KV link that cannot be made fails only the rooms that needed it (tcp and shm, real prefill
 * process, the test as its decode node). A room connects when its page list arrives and is computed
 * after, so its connect fails before any write of it is chained: with no handler on the connect from
 * the start, that rejection once crashed the prefill node's scheduler (a benchmark found it, with
 * the room waiting for pages). Afterwards another room, waiting unclaimed meanwhile, still transfers,
 * the node keeps serving and its pool is whole. The shm page list is a hostile one: it
 * names another program's /dev/shm file of the pool's size, which must be refused unchanged.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { REGION_HEADER_BYTES, SHM_DIR } from '../../native/shm-region.js';
import { pageBytes } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { ensureDefaultModel } from '../../src/model/default-model.js';
import { defaultTransferConfig, type TransferBackendName } from '../../src/transfer/backends.js';
import type { KvEndpoint } from '../../src/transfer/kv-transfer.js';
import type { ShmEndpoint } from '../../src/transfer/shm/endpoint.js';
import type { TcpEndpoint } from '../../src/transfer/tcp/endpoint.js';
import { localHostId } from '../../src/transfer/shm/host-id.js';
import { createShmKvPool } from '../../src/transfer/shm/shm-kv-pool.js';
import { getJson, postJson, stopAll, startProcess, waitForFreePool, type NodeProcess } from '../helpers/processes.js';
import { refusedPort } from '../router/fake-pd-node.js';
import { waitFor } from '../helpers/wait.js';
import { FakeDecode } from './fake-decode.js';

/** Four 16-token pages in the prefill pool: one 60-token prompt (plus 4 new tokens) fills it. */
const POOL_PAGES = 4;
const PROMPT = Array.from({ length: 60 }, (_, i) => 10 + i);

/** shm: a file of another program in /dev/shm, named by a hostile page list. */
const VICTIM = `/not-pd-node-${process.pid}`;
const victimDigest = (): string => createHash('sha256').update(readFileSync(`${SHM_DIR}${VICTIM}`)).digest('hex');

async function unreachable(backend: TransferBackendName, pageBytesOfPool: number): Promise<ShmEndpoint | TcpEndpoint> {
  if (backend === 'shm') {
    const bytes = POOL_PAGES * pageBytesOfPool;
    writeFileSync(`${SHM_DIR}${VICTIM}`, randomBytes(REGION_HEADER_BYTES + bytes), { mode: 0o600 });
    return { backend: 'shm', name: VICTIM, bytes, hostId: localHostId(), poolId: '0'.repeat(32) };
  }
  return { backend: 'tcp', host: '127.0.0.1', port: await refusedPort() };
}

for (const backend of ['tcp', 'shm'] as const) {
  describe(`PD link failure (${backend})`, () => {
    let prefill: NodeProcess;
    let decode: FakeDecode;
    let receiver: TransferActorClient;
    let good: KvEndpoint;
    let closeReceiverPool = (): void => {};

    before(async () => {
      const modelDir = await ensureDefaultModel();
      prefill = await startProcess([
        '--role', 'prefill', '--port', '0', '--host', '127.0.0.1', '--disaggregation-bootstrap-port', '0', '--disaggregation-transfer-backend', backend,
        '--max-total-tokens', String(POOL_PAGES * 16), '--disaggregation-peer-timeout', '60', '--log-level', 'info',
      ]);
      decode = new FakeDecode('fake-decode', prefill.bootstrapPort!, modelDir);
      let pool: KvPool;
      if (backend === 'shm') {
        const shm = createShmKvPool(decode.layout, POOL_PAGES);
        pool = shm.pool;
        closeReceiverPool = () => {
          shm.region.unlink();
          shm.region.close();
        };
      } else {
        pool = new KvPool(decode.layout, POOL_PAGES);
      }
      receiver = await TransferActorClient.start(defaultTransferConfig(backend), pool, 'error');
      good = await receiver.listen('127.0.0.1');
    });
    after(async () => {
      decode?.close();
      await receiver?.close();
      closeReceiverPool();
      rmSync(`${SHM_DIR}${VICTIM}`, { force: true });
      await stopAll();
    });

    const generate = (room: string) =>
      postJson(`${prefill.url}/generate`, `{"input_ids":${JSON.stringify(PROMPT)},"sampling_params":{"max_new_tokens":4},"bootstrap_host":"127.0.0.1","bootstrap_port":${prefill.bootstrapPort},"bootstrap_room":${room}}`);

    test('a connect that fails fails only its room, with a clear error; the other room transfers and the node keeps serving', async () => {
      // Room 1 waits for its page list (unclaimed: not computed, no pages).
      const waiting = generate('1');
      // Room 2's page list names a pool nobody can reach.
      const doomed = generate('2');
      await waitFor(async () => (await getJson(`${prefill.url}/get_server_info`)).scheduler_stats, (s) => s.pd_rooms === 2, 'rooms 1 and 2 open');
      const endpoint = await unreachable(backend, pageBytes(decode.layout));
      const before = backend === 'shm' ? victimDigest() : null;
      await decode.requestKv('2', endpoint, [0, 1, 2, 3]);
      const notice2 = await decode.notice('2');
      assert.equal(notice2.type, 'room_failed', JSON.stringify(notice2));
      assert.match(notice2.message, /^KV transfer to decode node fake-decode failed: cannot connect: /);
      if (backend === 'shm') {
        assert.match(notice2.message, /refusing shm object "\/not-pd-node-\d+": not a pd-node pool name/);
        assert.equal(victimDigest(), before, 'the named file is unchanged');
      }
      // Prefill's own answer is 200 if its compute (the first token) beat the failed connect, else the error.
      const answered = await doomed;
      if (answered.status !== 200) {
        assert.equal(answered.status, 502, JSON.stringify(answered.body));
        assert.match(answered.body.error.message, /^KV transfer to decode node fake-decode failed: cannot connect: /);
      }

      // Room 1 is untouched: its page list names a reachable pool and its KV goes there.
      await receiver.grant('1', decode.writer, [0, 1, 2, 3]);
      await decode.requestKv('1', good, [0, 1, 2, 3]);
      const notice1 = await decode.notice('1');
      assert.equal(notice1.type, 'kv_done', JSON.stringify(notice1));
      assert.equal((await waiting).status, 200);
      await waitForFreePool(prefill.url);

      // The node keeps serving PD rooms, and requests of its own.
      const next = generate('3');
      await receiver.grant('3', decode.writer, [0, 1, 2, 3]);
      await decode.requestKv('3', good, [0, 1, 2, 3]);
      assert.equal((await next).status, 200);
      assert.equal((await decode.notice('3')).type, 'kv_done');
      const alone = await postJson(`${prefill.url}/generate`, { text: 'still here', sampling_params: { max_new_tokens: 2 } });
      assert.equal(alone.status, 200, JSON.stringify(alone.body));
      await waitForFreePool(prefill.url);
    });
  });
}
