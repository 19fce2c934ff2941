import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { ConfigError } from '../errors.js';
import { API_ROLES, isApiRole, type ApiRole } from './api-roles.js';

/** One API token and what it may do. `name` says whose it is in logs; the token itself is never logged. */
export interface TokenEntry {
  token: string;
  role: ApiRole;
  name?: string;
}

/** Shorter tokens are refused: a placeholder such as `replace-me` must never open the API. */
export const MIN_TOKEN_LENGTH = 16;

const FIELDS = new Set(['token', 'role', 'name']);

/** A token file that does not parse; `problems` name the entry, line and field, never a token. */
export class TokenFileError extends ConfigError {
  override name = 'TokenFileError';
  constructor(
    readonly path: string,
    readonly problems: string[],
  ) {
    super(`SDF_API_TOKENS_FILE ${path}: ${problems.join('; ')}`);
  }
}

/**
 * Parses SDF_API_TOKENS_FILE: a YAML (or JSON) list of `{token, role, name?}`, e.g.
 *
 *     - name: ci
 *       role: submit
 *       token: 3f9c…   # at least 16 characters; `openssl rand -hex 32`
 *
 * Every problem is reported as `entry N (line L): field: message`. Messages never quote the
 * file's text, which holds the secrets.
 */
export function parseTokenFile(text: string, path: string): TokenEntry[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineOf = (node: Node | null | undefined, fallback = 1) => (node?.range ? lines.linePos(node.range[0]).line : fallback);
  if (doc.errors.length > 0) {
    throw new TokenFileError(
      path,
      doc.errors.map((e) => `line ${lines.linePos(e.pos[0]).line}: not valid YAML (${e.code})`),
    );
  }
  if (doc.contents === null) return [];
  if (!isSeq(doc.contents)) throw new TokenFileError(path, [`line ${lineOf(doc.contents)}: must be a list of {token, role, name?}`]);

  const problems: string[] = [];
  const entries: TokenEntry[] = [];
  const seen = new Map<string, number>();
  doc.contents.items.forEach((item, index) => {
    const node = item as Node;
    const where = `entry ${index + 1} (line ${lineOf(node)})`;
    if (!isMap(node)) return void problems.push(`${where}: must be a map {token, role, name?}`);
    const fields = new Map<string, { value: unknown; line: number }>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      const value = pair.value as Node | null;
      fields.set(key, { value: isScalar(value) ? value.value : value === null ? null : '[not a scalar]', line: lineOf(value ?? (pair.key as Node), lineOf(node)) });
    }
    const at = (field: string) => `entry ${index + 1} (line ${fields.get(field)?.line ?? lineOf(node)}): ${field}`;
    for (const key of fields.keys()) if (!FIELDS.has(key)) problems.push(`${at(key)}: unknown field (allowed: token, role, name)`);

    const token = fields.get('token')?.value;
    const role = fields.get('role')?.value;
    const name = fields.get('name')?.value;
    let valid = true;
    if (typeof token !== 'string' || token === '') {
      problems.push(`${at('token')}: required, a string`);
      valid = false;
    } else if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      problems.push(`${at('token')}: must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32)`);
      valid = false;
    } else if (seen.has(token)) {
      problems.push(`${at('token')}: the same token as entry ${seen.get(token)}`);
      valid = false;
    } else {
      seen.set(token, index + 1);
    }
    if (!isApiRole(role)) {
      problems.push(`${at('role')}: must be one of ${API_ROLES.join(', ')}`);
      valid = false;
    }
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      problems.push(`${at('name')}: must be a non-empty string`);
      valid = false;
    }
    if (!valid) return;
    entries.push({ token: token as string, role: role as ApiRole, ...(name !== undefined ? { name: name as string } : {}) });
  });
  if (problems.length > 0) throw new TokenFileError(path, problems);
  return entries;
}
