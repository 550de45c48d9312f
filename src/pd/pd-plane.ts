/**
 * The PD side of a node's main thread: the control socket (prefill: ROUTER on the bootstrap port;
 * decode: DEALERs to prefill nodes), the bridge between it and the scheduler actor, the transfer
 * metrics, and the registration with the registry. All I/O: no data passes through here. Every
 * ZeroMQ socket here is authenticated with the cluster's CURVE keys. Everything published to peers
 * (record, KV endpoint in page lists) names the node's published host, not its bind address.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import type { WorkerSchedulerClient } from '../../actors/scheduler/worker-scheduler-client.js';
import type { KvLayoutInfo, ModelIdentity, NodeRecord } from '../registry/protocol.js';
import { connectNodeRegistration } from '../membership/membership.js';
import { hostPort } from '../net/address-kind.js';
import { publishedEndpoint } from '../transfer/published-endpoint.js';
import type { CurveKeys } from '../security/curve-keys.js';
import { DecodeControl } from './decode-control.js';
import { PdMetrics } from './pd-metrics.js';
import type { PdOptions } from './pd-options.js';
import { PrefillControl } from './prefill-control.js';

export interface PdPlane {
  close(): Promise<void>;
}

export interface PdPlaneOptions {
  options: PdOptions;
  client: WorkerSchedulerClient;
  /** The node's metrics registry (the HTTP server serves it); the transfer metrics join it. */
  metrics: Registry;
  /** The address peers reach this node at (src/net/published-host.ts): bootstrap socket and KV endpoint. */
  publishedHost: string;
  /** The HTTP URL at `publishedHost`. */
  httpUrl: string;
  /** From the cluster secret (`--cluster-secret-file`). */
  curve: CurveKeys;
  log: Logger;
}

export async function startPdPlane({ options, client, metrics, publishedHost, httpUrl, curve, log }: PdPlaneOptions): Promise<PdPlane> {
  const role = options.role;
  if (role === 'colocated') throw new Error('startPdPlane: a colocated node has no PD plane');
  const nodeId = `${role}-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const model: ModelIdentity = { fingerprint: client.model.fingerprint, servedModelName: client.model.servedModelName };
  const kvLayout: KvLayoutInfo = client.model.kvLayout;
  const peerTimeoutMs = options.peerTimeoutSecs * 1000;
  const pdMetrics = new PdMetrics(metrics);
  // The receiver reports where it listens (maybe a wildcard); peers get the published address.
  const kvEndpoint = client.model.kvEndpoint && publishedEndpoint(client.model.kvEndpoint, publishedHost);
  let closeControl: () => void;
  let controlPort: number | null = null;
  if (role === 'prefill') {
    const control = await PrefillControl.bind({
      host: options.host, port: options.bootstrapPort, model, kvLayout, backend: options.transfer.backend, peerTimeoutMs, curve, log,
      toScheduler: (m) => client.sendPd(m),
    });
    controlPort = control.port;
    client.onPdMessage((msg) => {
      if (msg.type === 'kv_done') {
        pdMetrics.observe(msg);
        control.send(msg.peerId, { v: 1, type: 'kv_done', room: msg.room, first: msg.first, bytes: msg.bytes, runs: msg.runs, transferMs: msg.transferMs, writeMs: msg.writeMs, exposedMs: msg.exposedMs });
      } else if (msg.type === 'room_failed_notice' && msg.peerId !== undefined) {
        control.send(msg.peerId, { v: 1, type: 'room_failed', room: msg.room, message: msg.message, retryAfterSecs: msg.retryAfterSecs });
      }
    });
    closeControl = () => control.close();
    log.info({ bootstrapPort: control.port, backend: options.transfer.backend }, 'prefill bootstrap socket listening');
  } else {
    if (!kvEndpoint) throw new Error('decode node started without a KV endpoint');
    const control = new DecodeControl({ nodeId, model, kvLayout, endpoint: kvEndpoint, peerTimeoutMs, curve, log, toScheduler: (m) => client.sendPd(m), onTransfer: (t) => pdMetrics.observe(t) });
    client.onPdMessage((msg) => {
      if (msg.type === 'kv_request') control.requestKv(msg.room, msg.bootstrap, msg.pageIds, msg.writer);
      else if (msg.type === 'room_failed_notice' && msg.bootstrap) control.roomFailed(msg.room, msg.bootstrap, msg.message);
      else if (msg.type === 'kv_verified') pdMetrics.verified(msg);
    });
    closeControl = () => control.close();
  }
  const registry = options.registryUrl ? connectNodeRegistration(options.registryUrl, { curve, log, etcd: options.etcd }) : null;
  if (registry) {
    const record: NodeRecord = {
      id: nodeId,
      role,
      httpUrl,
      controlAddr: controlPort === null ? null : `tcp://${hostPort(publishedHost, controlPort)}`,
      bootstrapPort: controlPort,
      model,
      kvLayout,
    };
    // Registration retries on its own (and logs the outage); start-up does not wait for it.
    registry.register(record).catch(() => undefined);
  }
  return {
    async close() {
      closeControl();
      if (registry) {
        await registry.deregister().catch(() => undefined);
        registry.close();
      }
    },
  };
}
