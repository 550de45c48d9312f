/**
 * A transfer failure that leaves the link to the peer unusable (connection lost, peer gone, write
 * timed out). Senders reject with it so a caller can tell "drop this link and connect again" from "this
 * one write was wrong" (a bad run), which leaves the link and other writes on it untouched.
 */
export class KvLinkError extends Error {
  override name = 'KvLinkError';
}
