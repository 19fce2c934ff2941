import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync, type Stats } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ApiRole } from './api-roles.js';
import { parseTokenFile, TokenFileError, type TokenEntry } from './token-file.js';

export interface ApiTokensOptions {
  /** SDF_API_TOKEN: one token of role admin. @defaultValue none */
  envToken?: string | undefined;
  /** SDF_API_TOKENS_FILE: tokens with roles, re-read when the file changes. @defaultValue none */
  file?: string | undefined;
  /** How often the file is checked for a change. @defaultValue 1000 */
  pollMs?: number;
  /** Where a file that stops parsing, or disappears, is reported. @defaultValue none */
  logger?: Logger;
}

/** Who a token belongs to: never the token itself. */
export interface TokenHolder {
  role: ApiRole;
  name: string;
}

interface KnownToken extends TokenHolder {
  digest: Buffer;
}

const digestOf = (token: string) => createHash('sha256').update(token, 'utf8').digest();

const known = (entry: TokenEntry, fallbackName: string): KnownToken => ({ digest: digestOf(entry.token), role: entry.role, name: entry.name ?? fallbackName });

/** What identifies a version of the file: a rewrite or a Kubernetes Secret update changes one of these. */
const versionOf = (s: Stats) => `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

/**
 * The tokens the API accepts: SDF_API_TOKEN (admin) and the entries of SDF_API_TOKENS_FILE.
 * The file is polled and re-read when it changes, so tokens are added and revoked without a
 * restart. A file that stops parsing, or is removed, revokes every token it held (fail closed)
 * until it is fixed; the problem is logged by line and field, never with a token.
 *
 * Only sha256 digests are kept. A presented token is digested too and compared with every known
 * digest by `timingSafeEqual`: equal lengths always, no early exit, so the time taken says
 * nothing about how much of a token, or its length, was right.
 */
export class ApiTokens {
  readonly #envTokens: KnownToken[];
  readonly #file: string | undefined;
  readonly #logger: Logger | undefined;
  #fileTokens: KnownToken[] = [];
  #fileVersion: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** Reads the file once, throwing TokenFileError if it does not parse. */
  constructor(options: ApiTokensOptions = {}) {
    this.#envTokens = options.envToken ? [known({ token: options.envToken, role: 'admin' }, 'SDF_API_TOKEN')] : [];
    this.#file = options.file;
    this.#logger = options.logger;
    if (this.#file === undefined) return;
    let stats: Stats;
    try {
      stats = statSync(this.#file);
    } catch (err) {
      throw new ConfigError(`SDF_API_TOKENS_FILE ${this.#file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    this.#fileTokens = this.#read(this.#file);
    this.#fileVersion = versionOf(stats);
    this.#timer = setInterval(() => this.#reloadIfChanged(), options.pollMs ?? 1000).unref();
  }

  /** Tokens given directly, e.g. by a test: `{token, role, name?}`. */
  static of(entries: TokenEntry[]): ApiTokens {
    const tokens = new ApiTokens();
    tokens.#fileTokens = entries.map((e, i) => known(e, `token ${i + 1}`));
    return tokens;
  }

  /**
   * Whether the API checks tokens at all: once SDF_API_TOKEN or SDF_API_TOKENS_FILE is set
   * (an empty file included: every request is then refused until a token is added).
   */
  get enabled(): boolean {
    return this.#envTokens.length > 0 || this.#file !== undefined || this.#fileTokens.length > 0;
  }

  /** The holder of `token`, or undefined for a token no one holds. */
  identify(token: string): TokenHolder | undefined {
    const given = digestOf(token);
    let match: KnownToken | undefined;
    for (const candidate of [...this.#envTokens, ...this.#fileTokens]) {
      if (timingSafeEqual(given, candidate.digest) && !match) match = candidate;
    }
    return match ? { role: match.role, name: match.name } : undefined;
  }

  /** Stops watching the file. Idempotent. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #read(file: string): KnownToken[] {
    return parseTokenFile(readFileSync(file, 'utf8'), file).map((e, i) => known(e, `${file} entry ${i + 1}`));
  }

  #reloadIfChanged(): void {
    const file = this.#file!;
    let version: string;
    try {
      version = versionOf(statSync(file));
    } catch (err) {
      if (this.#fileVersion === 'missing') return;
      this.#fileVersion = 'missing';
      this.#fileTokens = [];
      this.#logger?.error({ file, code: (err as NodeJS.ErrnoException).code }, 'SDF_API_TOKENS_FILE cannot be read: its tokens are refused until it is back');
      return;
    }
    if (version === this.#fileVersion) return;
    this.#fileVersion = version;
    try {
      this.#fileTokens = this.#read(file);
      this.#logger?.info({ file, tokens: this.#fileTokens.map((t) => ({ name: t.name, role: t.role })) }, 'API tokens reloaded');
    } catch (err) {
      this.#fileTokens = [];
      const problems = err instanceof TokenFileError ? err.problems : [(err as Error).message];
      this.#logger?.error({ file, problems }, 'SDF_API_TOKENS_FILE no longer parses: its tokens are refused until it is fixed');
    }
  }
}
