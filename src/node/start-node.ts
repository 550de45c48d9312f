/**
 * Starts one pd-node node in this process: the scheduler actor on a worker thread and the HTTP
 * front end on the main thread; for PD roles also the control plane (bootstrap socket or links to
 * prefill nodes) and the registry registration. Used by the CLI and by programs embedding pd-node.
 */
import type { AddressInfo } from 'node:net';
import { createLogger } from '../log/logger.js';
import { ensureDefaultModel } from '../model/default-model.js';
import { MODEL_SNAPSHOT, resolveModelDir, TOKENIZER_SNAPSHOT } from '../model/hf-cache.js';
import { resolveWeightsPath } from '../model/model-files.js';
import { startPdPlane, type PdPlane } from '../pd/pd-plane.js';
import { createHttpServer } from '../server/http-server.js';
import { ServerMetrics } from '../server/metrics.js';
import { DEFAULT_NODE_OPTIONS, type NodeOptions } from './options.js';
import type { SchedulerClient } from '../../actors/scheduler/scheduler-client.js';
import type { SchedulerOptions } from '../../actors/scheduler/scheduler-options.js';
import { DEFAULT_SCHEDULER_TIMEOUTS, WorkerSchedulerClient } from '../../actors/scheduler/worker-scheduler-client.js';
import { httpUrlOf } from '../server/http-url.js';
import { hostOfUrl } from '../net/address-kind.js';
import { choosePublishedHost } from '../net/published-host.js';
import { loadClusterSecret } from '../security/cluster-secret.js';
import { curveKeys } from '../security/curve-keys.js';

export interface NodeHandle {
  /** Base URL as published (src/net/published-host.ts), e.g. http://127.0.0.1:30000 */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly options: NodeOptions;
  /** Direct access to the scheduler actor (stats, generation without HTTP). */
  readonly client: SchedulerClient;
  /** Stops accepting requests, fails those in flight, and stops the worker. */
  close(): Promise<void>;
}

/** The scheduler actor's own configuration (it crosses to the worker thread: only what it reads). */
function schedulerOptions(o: NodeOptions): SchedulerOptions {
  return {
    role: o.role, modelPath: o.modelPath, tokenizerPath: o.tokenizerPath, contextLength: o.contextLength, servedModelName: o.servedModelName, host: o.host, logLevel: o.logLevel,
    pageSize: o.pageSize, maxTotalTokens: o.maxTotalTokens, memFractionStatic: o.memFractionStatic, maxRunningRequests: o.maxRunningRequests,
    chunkedPrefillSize: o.chunkedPrefillSize, maxPrefillTokens: o.maxPrefillTokens, schedulePolicy: o.schedulePolicy, randomSeed: o.randomSeed,
    engine: o.engine, tpSize: o.tpSize,
    transfer: o.transfer, bootstrapTimeoutSecs: o.bootstrapTimeoutSecs, transferTimeoutSecs: o.transferTimeoutSecs,
  };
}

export async function startNode(opts: Partial<NodeOptions> = {}): Promise<NodeHandle> {
  const given: NodeOptions = { ...DEFAULT_NODE_OPTIONS, ...opts };
  // Hub ids resolve to cached snapshots before any thread starts: a miss fails here, fast, naming the flag.
  // The model path keeps what was given (it names the served model); the worker gets the tokenizer's directory.
  if (given.modelPath === null && given.loadFormat === 'gguf') throw new Error('--load-format gguf needs --model-path (a .gguf file, or a directory with one); the built-in model is safetensors');
  const modelDir = given.modelPath === null ? await ensureDefaultModel() : resolveWeightsPath(resolveModelDir(given.modelPath, given.revision, '--model-path', MODEL_SNAPSHOT), given.loadFormat);
  const tokenizerPath = given.tokenizerPath === null ? null : resolveModelDir(given.tokenizerPath, given.revision, '--tokenizer-path', TOKENIZER_SNAPSHOT);
  const options: NodeOptions = { ...given, tokenizerPath };
  const log = createLogger(options.logLevel).child({ role: options.role });
  // Read here first so a bad secret file is a start-up error naming it, not a worker failure.
  const secret = options.role === 'colocated' ? null : loadClusterSecret(options.clusterSecretFile);
  if (secret) log.info({ clusterSecret: secret.source }, 'cluster secret');
  const client = await WorkerSchedulerClient.start(schedulerOptions(options), modelDir, log, DEFAULT_SCHEDULER_TIMEOUTS, secret?.key);
  const metrics = new ServerMetrics(options.servedModelName ?? client.model.servedModelName);
  let app;
  let pd: PdPlane | null = null;
  let url: string;
  let port: number;
  try {
    app = await createHttpServer({ client, options, logger: log, metrics });
    await app.listen({ host: options.host, port: options.port });
    port = (app.server.address() as AddressInfo).port;
    const towards = options.registryUrl === null ? null : hostOfUrl(options.registryUrl);
    const published = await choosePublishedHost({ bindHost: options.host, advertiseHost: options.advertiseHost, env: process.env, towards });
    if (published.host !== options.host) log.info({ host: options.host, publishedHost: published.host, why: published.why }, `publishing ${published.host}`);
    url = httpUrlOf(published.host, port);
    if (secret) pd = await startPdPlane({ options, client, metrics: metrics.registry, publishedHost: published.host, httpUrl: url, curve: curveKeys(secret.key), log });
  } catch (err) {
    await app?.close();
    await client.close();
    throw err;
  }
  log.info({ url, role: options.role, modelDir }, 'node listening');
  let closing: Promise<void> | null = null;
  return {
    url,
    host: options.host,
    port,
    options,
    client,
    close() {
      closing ??= (async () => {
        await pd?.close();
        await client.close();
        await app.close();
      })();
      return closing;
    },
  };
}
