import { createHash } from 'node:crypto';
import { failure, type ApiFailure } from './http.js';
import { resourceId } from './resource-id.js';

/** A file of the Files API: uploaded by a client, or generated (a batch's results). */
export interface StoredFile {
  /** `files/{id}`. */
  name: string;
  id: string;
  displayName?: string;
  mimeType: string;
  bytes: Buffer;
  source: 'UPLOADED' | 'GENERATED';
  seq: number;
  createMs: number;
  expireMs: number;
}

/** Gemini keeps files 48 hours. */
const FILE_TTL_MS = 48 * 3_600_000;

/** What Gemini answers for a file that does not exist or is not yours (403, not 404). */
export const fileNotFound = (id: string): ApiFailure => failure(403, 'PERMISSION_DENIED', `You do not have permission to access the File ${id} or it may not exist.`);

/**
 * The Files API's storage, in memory. Uploads are refused once `maxBytes()` would be passed
 * (Gemini's own cap is 20 GB a project); generated files are always kept, since the simulator
 * made them, and count towards the cap. Files expire after 48 hours, as Gemini's do.
 */
export class FileStore {
  readonly #files = new Map<string, StoredFile>();
  #seq = 0;
  #bytes = 0;

  constructor(readonly maxBytes: () => number) {}

  /** Bytes held now. */
  get bytesHeld(): number {
    return this.#bytes;
  }

  /** Whether an upload of `size` more bytes fits under the cap. */
  fits(size: number, now = Date.now()): boolean {
    this.#purge(now);
    return this.#bytes + size <= this.maxBytes();
  }

  has(id: string, now = Date.now()): boolean {
    return this.get(id, now) !== undefined;
  }

  add(file: { id?: string; displayName?: string; mimeType: string; bytes: Buffer; source: StoredFile['source'] }, now = Date.now()): StoredFile {
    const id = file.id ?? resourceId(12);
    const stored: StoredFile = { ...file, id, name: `files/${id}`, seq: ++this.#seq, createMs: now, expireMs: now + FILE_TTL_MS };
    this.#files.set(id, stored);
    this.#bytes += stored.bytes.length;
    return stored;
  }

  /** By id (the part after `files/`); undefined if unknown, deleted or expired. */
  get(id: string, now = Date.now()): StoredFile | undefined {
    const file = this.#files.get(id);
    if (file && file.expireMs <= now) {
      this.delete(id);
      return undefined;
    }
    return file;
  }

  delete(id: string): boolean {
    const file = this.#files.get(id);
    if (!file) return false;
    this.#files.delete(id);
    this.#bytes -= file.bytes.length;
    return true;
  }

  /** Live files, newest first. */
  list(now = Date.now()): StoredFile[] {
    this.#purge(now);
    return [...this.#files.values()].reverse();
  }

  #purge(now: number): void {
    for (const [id, file] of this.#files) if (file.expireMs <= now) this.delete(id);
  }
}

/**
 * The File resource as Gemini returns it. `baseUrl` is where this simulator was reached, so `uri`
 * and `downloadUri` point back at it. Only generated files have a `downloadUri`: Gemini does not
 * let uploaded files be downloaded.
 */
export function fileResource(file: StoredFile, baseUrl: string) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    name: file.name,
    ...(file.displayName ? { displayName: file.displayName } : {}),
    mimeType: file.mimeType,
    sizeBytes: String(file.bytes.length),
    createTime: iso(file.createMs),
    updateTime: iso(file.createMs),
    expirationTime: iso(file.expireMs),
    sha256Hash: createHash('sha256').update(file.bytes).digest('base64'),
    uri: `${baseUrl}/v1beta/${file.name}`,
    ...(file.source === 'GENERATED' ? { downloadUri: `${baseUrl}/download/v1beta/${file.name}:download?alt=media` } : {}),
    state: 'ACTIVE',
    source: file.source,
  };
}
