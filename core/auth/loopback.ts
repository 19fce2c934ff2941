import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors.js';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (IPv4-mapped forms included) and `localhost`: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  const family = isIP(bare);
  if (family === 0) return false;
  return LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** Thrown when the API would listen beyond this machine with no token to check. */
export class OpenBindError extends ConfigError {
  override name = 'OpenBindError';
}

/**
 * Auth by default: an API reachable from other machines must check tokens. Without one it
 * refuses to start, saying how to give it one.
 */
export function assertBindAllowed(host: string, hasTokens: boolean): void {
  if (hasTokens || isLoopbackHost(host)) return;
  throw new OpenBindError(
    `refusing to serve the API on ${host} without a token: anyone who reaches it could start, read and delete runs. ` +
      'Set SDF_API_TOKEN (one admin token) or SDF_API_TOKENS_FILE (a file of tokens with roles read, submit, admin), ' +
      'or bind a loopback address (HOST=127.0.0.1).',
  );
}
