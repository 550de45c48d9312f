import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

let stderr: ReturnType<typeof pino.destination> | undefined;

/**
 * pino JSON logger to stderr (stdout stays free for a command's own output, e.g. the demo's response).
 * Lines about a request come from `requestLogger`, so every one carries the request id (and, in PD mode,
 * the bootstrap room). Every logger of a thread shares one buffered destination: with one each,
 * lines of different loggers could reach stderr out of order (a line logged first printed last).
 */
export function createLogger(level: LogLevel, name = 'pd-node'): Logger {
  stderr ??= pino.destination({ fd: 2, sync: false });
  return pino({ name, level, base: { pid: process.pid } }, stderr);
}

export function requestLogger(log: Logger, rid: string, room?: bigint | string): Logger {
  return room === undefined ? log.child({ rid }) : log.child({ rid, room: String(room) });
}
