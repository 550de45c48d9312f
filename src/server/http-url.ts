/** `http://HOST:PORT` of a server listening on `host` (an IPv6 address goes in brackets). */
export function httpUrlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
