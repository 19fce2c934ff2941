import t from 'tap';
import { simAndClient } from './sim-client.js';

const KEY = { 'x-goog-api-key': 'sim' };

/** The resumable protocol's start request, as the SDK sends it. */
function start(url: string, size: number, extra: Record<string, string> = {}, body: unknown = { file: { displayName: 'notes', mimeType: 'text/plain', sizeBytes: String(size) } }) {
  return fetch(`${url}/upload/v1beta/files`, {
    method: 'POST',
    headers: { ...KEY, 'content-type': 'application/json', 'x-goog-upload-protocol': 'resumable', 'x-goog-upload-command': 'start', 'x-goog-upload-header-content-length': String(size), 'x-goog-upload-header-content-type': 'text/plain', ...extra },
    body: JSON.stringify(body),
  });
}

const chunk = (uploadUrl: string, command: string, offset: number, bytes = '') =>
  fetch(uploadUrl, { method: 'POST', headers: { 'x-goog-upload-command': command, 'x-goog-upload-offset': String(offset) }, body: bytes });

t.test('the resumable upload protocol: start answers an upload URL; chunks at the right offsets; the finalizing chunk answers the file', async (t) => {
  const { sim, ai } = await simAndClient(t);
  const text = 'line one\nline two\nline three\n';
  const started = await start(sim.url, text.length);
  t.equal(started.status, 200);
  t.equal(started.headers.get('x-goog-upload-status'), 'active');
  const uploadUrl = started.headers.get('x-goog-upload-url')!;
  t.match(uploadUrl, new RegExp(`^${sim.url}/upload/v1beta/files\\?upload_id=[a-z0-9]+&upload_protocol=resumable$`), 'on this host (the SDK swaps in its baseUrl host anyway)');

  const first = await chunk(uploadUrl, 'upload', 0, text.slice(0, 10));
  t.equal(first.headers.get('x-goog-upload-status'), 'active');
  t.equal((await chunk(uploadUrl, 'upload', 3, 'xx')).status, 400, 'a chunk at the wrong offset is refused');
  const query = await chunk(uploadUrl, 'query', 0);
  t.equal(query.headers.get('x-goog-upload-size-received'), '10', 'query tells how much arrived');
  t.equal((await chunk(uploadUrl, 'upload', 10, text.slice(10, 20))).headers.get('x-goog-upload-status'), 'active');
  const last = await chunk(uploadUrl, 'upload, finalize', 20, text.slice(20));
  t.equal(last.headers.get('x-goog-upload-status'), 'final');
  const { file } = (await last.json()) as { file: { name: string; sizeBytes: string; displayName: string; mimeType: string } };
  t.match(file, { name: /^files\/[a-z0-9]{12}$/, sizeBytes: String(text.length), displayName: 'notes', mimeType: 'text/plain' });
  t.equal((await chunk(uploadUrl, 'upload', 0, 'again')).status, 404, 'a finished upload takes no more chunks');

  t.match(await ai.files.get({ name: file.name }), { name: file.name, sizeBytes: String(text.length), state: 'ACTIVE', source: 'UPLOADED' });
  const listed = [];
  for await (const f of await ai.files.list()) listed.push(f.name);
  t.same(listed, [file.name]);
  await ai.files.delete({ name: file.name });
  await t.rejects(ai.files.get({ name: file.name }), /You do not have permission to access the File .* or it may not exist/, 'a deleted file is 403, as in Gemini');
  t.match(sim.stats().calls, { 'files.upload': 1, 'files.uploadChunk': 6, 'files.get': 2, 'files.list': 1, 'files.delete': 1 });
});

t.test('the SDK uploads a Blob and a named file; a name already taken is refused', async (t) => {
  const { ai } = await simAndClient(t);
  const file = await ai.files.upload({ file: new Blob(['{"key":"a"}\n'], { type: 'application/jsonl' }), config: { name: 'my-requests', displayName: 'mine' } });
  t.match(file, { name: 'files/my-requests', mimeType: 'application/jsonl', sizeBytes: '12', displayName: 'mine' });
  await t.rejects(ai.files.upload({ file: new Blob(['x'], { type: 'text/plain' }), config: { name: 'my-requests' } }), /ALREADY_EXISTS/);
});

t.test('files held are capped by filesMaxBytes: an upload past it is refused with 429 until files are deleted', async (t) => {
  const { sim, ai } = await simAndClient(t, { filesMaxBytes: 1_000 });
  t.equal((await start(sim.url, 2_000)).status, 429, 'a declared size above the cap is refused at start');
  const a = await ai.files.upload({ file: new Blob(['a'.repeat(600)], { type: 'text/plain' }) });
  await t.rejects(ai.files.upload({ file: new Blob(['b'.repeat(600)], { type: 'text/plain' }) }), /RESOURCE_EXHAUSTED/);
  t.same(sim.stats().files, { count: 1, bytes: 600 });
  await ai.files.delete({ name: a.name! });
  await ai.files.upload({ file: new Blob(['b'.repeat(600)], { type: 'text/plain' }) });
  t.same(sim.stats().files, { count: 1, bytes: 600 }, 'room again after a delete');
});

t.test('bad uploads: no key, a size that does not match, an unknown upload', async (t) => {
  const { sim } = await simAndClient(t);
  const noKey = await fetch(`${sim.url}/upload/v1beta/files`, { method: 'POST', headers: { 'x-goog-upload-protocol': 'resumable', 'x-goog-upload-command': 'start' }, body: '{}' });
  t.equal(noKey.status, 403);
  const uploadUrl = (await start(sim.url, 10)).headers.get('x-goog-upload-url')!;
  t.equal((await chunk(uploadUrl, 'upload, finalize', 0, 'short')).status, 400, 'fewer bytes than declared');
  t.equal((await chunk(`${sim.url}/upload/v1beta/files?upload_id=nosuchupload`, 'upload', 0, 'x')).status, 404);
  t.equal((await start(sim.url, 10, { 'x-goog-upload-protocol': 'multipart' })).status, 400, 'only the resumable protocol');
});
