/**
 * Starts one pd-node node in this process: the scheduler actor on a worker thread and the HTTP
 * front end on the main thread. Used by the CLI and by programs embedding pd-node.
 */
import type { AddressInfo } from 'node:net';
import { createLogger } from '../log/logger.js';
import { ensureDefaultModel } from '../model/default-model.js';
import { createHttpServer } from '../server/http-server.js';
import { DEFAULT_NODE_OPTIONS, type NodeOptions } from './options.js';
import type { SchedulerClient } from './scheduler-client.js';
import { WorkerSchedulerClient } from './worker-scheduler-client.js';

export interface NodeHandle {
  /** Base URL, e.g. http://127.0.0.1:30000 */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly options: NodeOptions;
  /** Direct access to the scheduler actor (stats, generation without HTTP). */
  readonly client: SchedulerClient;
  /** Stops accepting requests, fails those in flight, and stops the worker. */
  close(): Promise<void>;
}

export async function startNode(opts: Partial<NodeOptions> = {}): Promise<NodeHandle> {
  const options: NodeOptions = { ...DEFAULT_NODE_OPTIONS, ...opts };
  const log = createLogger(options.logLevel);
  const modelDir = options.modelPath ?? (await ensureDefaultModel());
  const client = await WorkerSchedulerClient.start(options, modelDir, log);
  let app;
  try {
    app = await createHttpServer({ client, options, logger: log });
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    await client.close();
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${hostForUrl}:${port}`;
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
        await client.close();
        await app.close();
      })();
      return closing;
    },
  };
}
