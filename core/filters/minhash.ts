import { hash32, words } from './text-features.js';

export const MINHASH_PERMUTATIONS = 64;
export const LSH_BANDS = 16;
const ROWS = MINHASH_PERMUTATIONS / LSH_BANDS;
const SHINGLE = 5;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEEDS = Array.from({ length: MINHASH_PERMUTATIONS }, (_, i) => fmix32(0x9e3779b9 + i * 0x632be5ab));

/** MinHash signature over word 5-shingles: equal entries estimate the Jaccard similarity of the shingle sets. */
export function minhash(text: string): Uint32Array {
  const tokens = words(text);
  const signature = new Uint32Array(MINHASH_PERMUTATIONS).fill(0xffffffff);
  const count = Math.max(1, tokens.length - SHINGLE + 1);
  const hashes = tokens.map((w) => hash32(w));
  for (let i = 0; i < count; i++) {
    // A shingle's hash from its words' hashes: no string is built per shingle.
    let shingle = 0x811c9dc5;
    for (let k = i; k < Math.min(i + SHINGLE, hashes.length); k++) shingle = Math.imul(shingle ^ hashes[k]!, 0x01000193) >>> 0;
    for (let p = 0; p < MINHASH_PERMUTATIONS; p++) {
      const h = fmix32(shingle ^ SEEDS[p]!);
      if (h < signature[p]!) signature[p] = h;
    }
  }
  return signature;
}

export function estimatedJaccard(a: Uint32Array, b: Uint32Array): number {
  let equal = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) equal++;
  return equal / a.length;
}

/** One key per LSH band: items sharing any band become candidates (16 bands × 4 rows: 0.8-similar pairs almost always collide). */
export function lshBands(signature: Uint32Array): string[] {
  const bands: string[] = [];
  for (let b = 0; b < LSH_BANDS; b++) {
    let h = 0x811c9dc5;
    for (let r = 0; r < ROWS; r++) h = fmix32(h ^ signature[b * ROWS + r]!);
    bands.push(h.toString(36));
  }
  return bands;
}

export function signatureBytes(signature: Uint32Array): Buffer {
  return Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
}
