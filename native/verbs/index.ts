/**
 * libibverbs through koffi: the typed wrappers (device list, context, protection domain, memory
 * region, completion channel and queue, RC queue pair) and the constants and errors they use.
 * Importing this loads nothing: libibverbs.so.1 is opened by the first call that needs it.
 */
export { CompletionChannel } from './completion-channel.js';
export { CompletionQueue, type CompletionQueueOptions } from './completion-queue.js';
export * from './constants.js';
export { CqPollHandle, type CqHandles } from './cq-poll-handle.js';
export { Context, type DeviceAttributes, type GidEntry, type PortAttributes } from './context.js';
export { Device, DeviceList } from './device.js';
export { LibibverbsMissingError, PostError, VerbsError } from './errors.js';
export { MemoryRegion } from './memory-region.js';
export { KV_POOL_ACCESS, ProtectionDomain } from './protection-domain.js';
export {
  DEFAULT_QP_RETRY,
  QueuePair,
  type QpLocalPath,
  type QpRemoteEndpoint,
  type QpRetryOptions,
  type QueuePairCapabilities,
  type QueuePairOptions,
} from './queue-pair.js';
export { completionStatusName, WC, WC_BYTES, type WorkCompletion } from './work-completions.js';
export type { RdmaWrite } from './work-requests.js';
