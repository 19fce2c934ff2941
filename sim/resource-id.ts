import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A random resource id of lowercase letters and digits, as Gemini's are (files: 12 characters,
 * batches: 36, cached contents: 40). The SDK's `tFileName` keeps only `[a-z0-9]+` of a file URI,
 * so ids must stay within that alphabet.
 */
export function resourceId(length: number): string {
  const bytes = randomBytes(length);
  let id = '';
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return id;
}
