/**
 * Helpers for the HTTP tests: JSON and SSE over real HTTP (global fetch), and bounded polling of the
 * scheduler's stats (a bound, never a timing assertion).
 */
import assert from 'node:assert/strict';

export interface JsonReply {
  status: number;
  headers: Headers;
  json: any;
}

export async function postJson(url: string, body: unknown, contentType = 'application/json'): Promise<JsonReply> {
  return postRaw(url, JSON.stringify(body), contentType);
}

export async function postRaw(url: string, raw: string, contentType = 'application/json'): Promise<JsonReply> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body: raw });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

export async function getJson(url: string): Promise<JsonReply> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? null : JSON.parse(text) };
}

/**
 * The `data:` payloads of a whole SSE body, checking the framing on the way: every event is exactly
 * one `data: ...` line followed by a blank line.
 */
export function sseData(body: string): string[] {
  assert.ok(body.endsWith('\n\n'), 'an SSE body ends with a blank line');
  return body
    .slice(0, -2)
    .split('\n\n')
    .map((event) => {
      assert.match(event, /^data: [^\n]+$/, `SSE event framing: ${JSON.stringify(event)}`);
      return event.slice('data: '.length);
    });
}

/** Parses SSE payloads that must end with [DONE]; returns the JSON chunks before it. */
export function sseChunks(body: string): any[] {
  const data = sseData(body);
  assert.equal(data.at(-1), '[DONE]', 'the stream ends with data: [DONE]');
  assert.equal(data.indexOf('[DONE]'), data.length - 1, '[DONE] comes once, last');
  return data.slice(0, -1).map((d) => JSON.parse(d));
}

/** The value of one sample line of Prometheus text, e.g. `pd_node_requests_total{outcome="finished"`; 0 when absent. */
export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series) && (l[series.length] === ' ' || l[series.length] === '{' || l[series.length] === ','));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}
