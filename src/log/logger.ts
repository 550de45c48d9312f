import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * pino JSON logger to stderr (stdout stays free for a command's own output, e.g. the demo's response).
 * Lines about a request come from `requestLogger`, so every one carries the request id (and, in PD mode,
 * the bootstrap room).
 */
export function createLogger(level: LogLevel, name = 'pd-node'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

export function requestLogger(log: Logger, rid: string, room?: bigint | string): Logger {
  return room === undefined ? log.child({ rid }) : log.child({ rid, room: String(room) });
}
