/**
 * The main thread's handle on the scheduler actor when the actor dies on its own: the request in
 * flight gets a 503 naming the crash, later ones too, and `lost` resolves with the reason (the CLI
 * then stops the node: src/cli/serve-command.ts). After a clean `close`, `lost` stays pending.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GenerateRequest } from '../../actors/scheduler/protocol.js';
import { createLogger } from '../../src/log/logger.js';
import { DEFAULT_NODE_OPTIONS } from '../../src/node/options.js';
import type { GenerateEvent } from '../../actors/scheduler/scheduler-client.js';
import { withTimeout } from '../../src/util/timeout.js';
import { DEFAULT_SCHEDULER_TIMEOUTS, WorkerSchedulerClient } from '../../actors/scheduler/worker-scheduler-client.js';

const STAND_IN = new URL('./crashing-scheduler-worker.js', import.meta.url);
const log = createLogger('silent');
/** Bounds each wait, so a client that never answers fails the test instead of hanging it. */
const WAIT_MS = 10_000;
const request = (rid: string) => ({ rid, input: { text: 'hi' }, sampling: {}, returnLogprob: false, logprobStartLen: -1, topLogprobsNum: 0, returnTextInLogprobs: false }) as unknown as GenerateRequest;

function generate(client: WorkerSchedulerClient, rid: string): Promise<GenerateEvent> {
  return withTimeout(new Promise((resolve) => client.generate(request(rid), resolve)), WAIT_MS, `request ${rid}`);
}

test('a scheduler worker that crashes fails its requests with 503 and resolves `lost`', async () => {
  const client = await WorkerSchedulerClient.start(DEFAULT_NODE_OPTIONS, '/nowhere', log, { ...DEFAULT_SCHEDULER_TIMEOUTS, workerUrl: STAND_IN });
  const first = await generate(client, 'a');
  assert.ok(first.type === 'error', JSON.stringify(first));
  assert.equal(first.status, 503);
  assert.match(first.message, /scheduler worker crashed: a bug in the scheduler/);
  assert.match(await withTimeout(client.lost, WAIT_MS, '`lost`'), /scheduler worker crashed: a bug in the scheduler/);
  const later = await generate(client, 'b');
  assert.ok(later.type === 'error', JSON.stringify(later));
  assert.equal(later.status, 503);
  await client.close();
});

test('a clean close does not count as lost', async () => {
  const client = await WorkerSchedulerClient.start(DEFAULT_NODE_OPTIONS, '/nowhere', log, { ...DEFAULT_SCHEDULER_TIMEOUTS, workerUrl: STAND_IN });
  await client.close();
  const outcome = await Promise.race([client.lost.then(() => 'lost'), new Promise((r) => setTimeout(() => r('pending'), 100))]);
  assert.equal(outcome, 'pending');
});
