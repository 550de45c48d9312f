/**
 * Client request bodies as the router needs them: the exact JSON text (relayed byte for byte, so big
 * integers and key order survive) next to its parsed form (read for the request's shape only).
 * Decisions, matching the node's HTTP layer: bodies are JSON whatever their content type (curl -d
 * sends form-urlencoded), an empty body is no body, and invalid JSON is a 400.
 */
import { HttpError } from '../server/errors.js';

export interface ClientBody {
  text: string;
  json: unknown;
}

export interface ClientObject {
  text: string;
  json: Record<string, unknown>;
}

export function parseClientBody(text: string): ClientBody | undefined {
  if (text.trim() === '') return undefined;
  try {
    return { text, json: JSON.parse(text) as unknown };
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

/** The body of a generation route: a JSON object. */
export function clientObject(body: ClientBody | undefined): ClientObject {
  const json = body?.json;
  if (body === undefined || json === null || typeof json !== 'object' || Array.isArray(json)) throw new HttpError(400, 'request body must be a JSON object');
  return { text: body.text, json: json as Record<string, unknown> };
}

/** What log lines call the request: the client's rid (or rids, for a batch); null: none (a fresh id is made if a line is logged). */
export function logRid(json: Readonly<Record<string, unknown>>): string | null {
  const rid = json.rid;
  if (typeof rid === 'string') return rid;
  if (Array.isArray(rid) && rid.every((r) => typeof r === 'string')) return rid.join(',');
  return null;
}
