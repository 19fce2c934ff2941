import { tokenize } from './text-features.js';

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
const BIN_SHIFT = 32 - Math.log2(MINHASH_PERMUTATIONS);
const VALUE_MASK = (1 << BIN_SHIFT) - 1;
const EMPTY = 0xffffffff;

/**
 * MinHash signature over word 5-shingles by one-permutation hashing (Li, Owen & Zhang 2012):
 * each shingle is hashed once, its top 6 bits pick one of 64 bins and the rest is its value;
 * a slot is its bin's minimum. Equal slots estimate the Jaccard similarity of the shingle sets as
 * 64 separate permutations do, at 1/64 of the hashing (it was the largest filter cost per item).
 * A bin no shingle fell in (short texts) borrows from the next filled bin to its right, mixed
 * with its own seed and the distance (rotation densification, Shrivastava & Li 2014), so two
 * texts that agree on the filled bins agree on the borrowed ones too.
 */
export function minhash(text: string): Uint32Array {
  const { hashes } = tokenize(text);
  const signature = new Uint32Array(MINHASH_PERMUTATIONS).fill(EMPTY);
  const count = Math.max(1, hashes.length - SHINGLE + 1);
  for (let i = 0; i < count; i++) {
    // A shingle's hash from its words' hashes: no string is built per shingle.
    let shingle = 0x811c9dc5;
    for (let k = i; k < Math.min(i + SHINGLE, hashes.length); k++) shingle = Math.imul(shingle ^ hashes[k]!, 0x01000193) >>> 0;
    const h = fmix32(shingle ^ SEEDS[0]!);
    const bin = h >>> BIN_SHIFT;
    const value = h & VALUE_MASK;
    if (value < signature[bin]!) signature[bin] = value;
  }
  if (!signature.includes(EMPTY)) return signature;
  // Borrowed only from bins a shingle filled (at least one was), never from one filled by borrowing.
  const filled = signature.slice();
  for (let bin = 0; bin < MINHASH_PERMUTATIONS; bin++) {
    if (filled[bin] !== EMPTY) continue;
    let distance = 1;
    while (filled[(bin + distance) % MINHASH_PERMUTATIONS] === EMPTY) distance++;
    const from = filled[(bin + distance) % MINHASH_PERMUTATIONS]!;
    signature[bin] = fmix32(from ^ SEEDS[bin]! ^ Math.imul(distance, 0x9e3779b9)) & VALUE_MASK;
  }
  return signature;
}

export function estimatedJaccard(a: Uint32Array, b: Uint32Array): number {
  let equal = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) equal++;
  return equal / a.length;
}

/** One key per LSH band (the offline audit's, in memory): items sharing any band become candidates (16 bands × 4 rows: 0.8-similar pairs almost always collide). */
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

/**
 * The corpus gate keeps b-bit MinHash (Li & König): only the low SLOT_BITS bits of each slot, two
 * slots a byte, 32 bytes a signature instead of 256. The low bits, because a slot is the minimum
 * of many hashes: its high bits are mostly zero, its low bits uniform. Unrelated slots then agree
 * by chance 1 time in 2^b, which the gate's verification takes back out; at b = 4 the estimate's standard
 * deviation near a 0.8 threshold is ~4% above full 32-bit slots' (0.052 vs 0.050 over 64 slots),
 * while 16-bit slots (128 bytes) would not leave room for the band tables within 150 bytes an item.
 */
export const SLOT_BITS = 4;
export const PACKED_SIGNATURE_BYTES = (MINHASH_PERMUTATIONS * SLOT_BITS) / 8;

export function packedSignature(signature: Uint32Array): Buffer {
  const out = Buffer.alloc(PACKED_SIGNATURE_BYTES);
  for (let i = 0; i < MINHASH_PERMUTATIONS; i += 2) out[i >> 1] = ((signature[i]! & 15) << 4) | (signature[i + 1]! & 15);
  return out;
}

/**
 * Bands of the gate's index: INDEX_BANDS bands of INDEX_ROWS full 32-bit slots each, hashed to one
 * uint32 per band with the band's number mixed in (all bands share one table). A pair of Jaccard J
 * shares a band with probability 1 - (1 - J^4)^bands: at 12 bands, 0.998 at J = 0.8 and 0.9999 at 0.85
 * (12, not 16, so the index stays under 150 bytes an item; see corpus-gate.ts). Banding uses
 * the full slots (computed here, never stored), so b-bit storage does not add chance collisions.
 */
export const INDEX_BANDS = 12;
export const INDEX_ROWS = 4;

export function bandHashes(signature: Uint32Array): number[] {
  const out: number[] = [];
  for (let b = 0; b < INDEX_BANDS; b++) {
    let h = fmix32(0x811c9dc5 ^ Math.imul(b + 1, 0x9e3779b9));
    for (let r = 0; r < INDEX_ROWS; r++) h = fmix32(h ^ signature[b * INDEX_ROWS + r]!);
    out.push(h);
  }
  return out;
}
