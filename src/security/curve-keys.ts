/**
 * ZeroMQ CURVE keys of a cluster, derived from the cluster secret, and the socket options that use
 * them. Every ZeroMQ socket of pd-node takes its security options from here.
 *
 * Decisions:
 * - Two X25519 key pairs, both derived (`deriveKey`) from the secret: one every server socket (the
 *   registry's ROUTER, a prefill node's bootstrap ROUTER) holds, one every client socket (registry
 *   clients, a decode node's DEALERs) holds. Both sides prove the secret: a client can complete the
 *   handshake only with the server key pair's public key, and must present the client public key,
 *   which the ZAP handler (zap-handler.ts) checks; a server can complete it only with the server
 *   secret key, so a fake prefill or registry without the secret is refused by the clients.
 * - Keys are made by node:crypto (X25519 from a 32-byte seed, the same clamped scalar libsodium
 *   uses) and handed to ZeroMQ as Z85 text, the form its options take.
 * - A server socket names a ZAP domain derived from the client public key: one process may serve
 *   sockets of clusters with different secrets (tests do), and the handler tells them apart by it.
 *   `zapEnforceDomain` makes a server socket refuse every client when no handler answers, rather
 *   than fall back to accepting any client that knows the server key.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { deriveKey } from './cluster-secret.js';

/** A CURVE key pair as ZeroMQ takes it: 40 Z85 characters each. */
export interface CurveKeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

export interface CurveKeys {
  readonly server: CurveKeyPair;
  readonly client: CurveKeyPair;
  /** The client public key as the ZAP handler receives it (32 raw bytes). */
  readonly clientPublicKey: Buffer;
  /** ZAP domain of this cluster's server sockets. */
  readonly zapDomain: string;
}

/** Options of a socket that binds (ROUTER): CURVE server, clients checked by the ZAP handler. */
export interface CurveServerOptions {
  curveServer: true;
  curveSecretKey: string;
  curvePublicKey: string;
  zapDomain: string;
  zapEnforceDomain: true;
}

/** Options of a socket that connects (DEALER): CURVE client of the cluster's servers. */
export interface CurveClientOptions {
  curveServerKey: string;
  curvePublicKey: string;
  curveSecretKey: string;
}

/** PKCS#8 DER prefix of an X25519 private key (RFC 8410); the 32-byte scalar follows. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const KEY_BYTES = 32;
const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

export function curveKeys(secret: Buffer): CurveKeys {
  const server = keyPairFromSeed(deriveKey(secret, 'curve-server'));
  const clientSeed = deriveKey(secret, 'curve-client');
  const clientPublicKey = rawPublicKey(clientSeed);
  const client = { publicKey: z85Encode(clientPublicKey), secretKey: z85Encode(clientSeed) };
  const zapDomain = `pd-node-${createHash('sha256').update(clientPublicKey).digest('hex').slice(0, 16)}`;
  return { server, client, clientPublicKey, zapDomain };
}

export function curveServerOptions(keys: CurveKeys): CurveServerOptions {
  return { curveServer: true, curveSecretKey: keys.server.secretKey, curvePublicKey: keys.server.publicKey, zapDomain: keys.zapDomain, zapEnforceDomain: true };
}

export function curveClientOptions(keys: CurveKeys): CurveClientOptions {
  return { curveServerKey: keys.server.publicKey, curvePublicKey: keys.client.publicKey, curveSecretKey: keys.client.secretKey };
}

/** An X25519 key pair whose secret key is `seed` (32 bytes). */
export function keyPairFromSeed(seed: Buffer): CurveKeyPair {
  return { publicKey: z85Encode(rawPublicKey(seed)), secretKey: z85Encode(seed) };
}

function rawPublicKey(seed: Buffer): Buffer {
  if (seed.length !== KEY_BYTES) throw new Error(`a CURVE seed is ${KEY_BYTES} bytes, got ${seed.length}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - KEY_BYTES);
}

/** Z85 (ZeroMQ RFC 32) of `bytes`, whose length must be a multiple of 4. */
export function z85Encode(bytes: Buffer): string {
  if (bytes.length % 4 !== 0) throw new Error(`Z85 encodes multiples of 4 bytes, got ${bytes.length}`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value = bytes.readUInt32BE(i);
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(Z85_ALPHABET[value % 85]);
      value = Math.floor(value / 85);
    }
    out += chunk.join('');
  }
  return out;
}
