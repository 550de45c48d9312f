import type { FinishMeta } from '../../src/generation/output.js';
import type { GenerateRequest, ModelInfo, SchedulerOutbound, SchedulerStats } from './protocol.js';

/** Events of one request as the HTTP layer sees them. */
export type GenerateEvent =
  | { type: 'accepted'; promptTokens: number }
  /** New tokens, as the scheduler sent them (the prompt's logprobs on the first event of a request that asked for them). */
  | Omit<Extract<SchedulerOutbound, { type: 'tokens' }>, 'rid'>
  | { type: 'finished'; meta: FinishMeta }
  /**
   * 400 for invalid input, 503 when shutting down or full (then with `retryAfterSecs`), 500 for
   * engine failures. Terminal.
   */
  | { type: 'error'; status: number; message: string; retryAfterSecs?: number };

/** The main thread's handle on the scheduler actor. */
export interface SchedulerClient {
  readonly model: ModelInfo;
  /** Starts a request; `onEvent` receives events until 'finished' or 'error'. */
  generate(req: GenerateRequest, onEvent: (e: GenerateEvent) => void): void;
  /** Cancels a request (client went away); its pages are freed. No event follows. */
  abort(rid: string, reason: string): void;
  stats(): Promise<SchedulerStats>;
  flushCache(): Promise<boolean>;
  close(): Promise<void>;
  /** Resolves with the reason if the actor dies on its own (crash, exit); never after `close`. */
  readonly lost: Promise<string>;
}
