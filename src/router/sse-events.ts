/**
 * Server-sent events read from an upstream stream's text (decoded once, as it arrived:
 * upstream-request.ts). Decisions: events are yielded as their exact text (terminating blank line
 * included), so a relayed stream is byte-for-byte what the node sent; only whole events are relayed,
 * so a stream cut mid-event never shows the client half an event; an unterminated tail at the end is
 * dropped, as the SSE spec says.
 */
const EVENT_END = /\r?\n\r?\n/;

export async function* sseEvents(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let pending = '';
  for await (const chunk of chunks) {
    pending += chunk;
    for (let m = EVENT_END.exec(pending); m !== null; m = EVENT_END.exec(pending)) {
      const end = m.index + m[0].length;
      yield pending.slice(0, end);
      pending = pending.slice(end);
    }
  }
}

/** The event's data (its `data:` lines joined by newlines), or null when it has none (e.g. a comment). */
export function sseData(event: string): string | null {
  const lines = event
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
  return lines.length === 0 ? null : lines.join('\n');
}
