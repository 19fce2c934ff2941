import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countTokens } from '../../sim/tokens.js';
import { simAndClient, textOfResponse, waitForBatch } from './sim-client.js';

const MODEL = 'gemini-2.5-flash';
const PROMPTS = ['Write a short note about tide pools.', 'Describe a quiet library in winter.', 'Explain why bread rises.', 'List three uses for a paperclip.'];

/** GET a batch over REST, to see the fields the SDK drops (batchStats, error, response). */
async function rawBatch(url: string, name: string) {
  const res = await fetch(`${url}/v1beta/${name}`, { headers: { 'x-goog-api-key': 'sim' } });
  return (await res.json()) as { done?: boolean; error?: { code: number; message: string }; response?: Record<string, unknown>; metadata: Record<string, unknown> & { batchStats: Record<string, string>; output?: unknown } };
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sim-batch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('an inlined batch goes PENDING → RUNNING → SUCCEEDED and answers each request like generateContent, with its metadata key, using no online quota', async (t) => {
  // rpm 1: had the batch used the online quota, the online call below would be refused. A long
  // delay so that polls every 20 ms see RUNNING (750 ms of it) even on a loaded machine.
  const { sim, ai } = await simAndClient(t, { batchDelayMs: 1_500, rpm: 1 });
  const created = await ai.batches.create({
    model: MODEL,
    src: PROMPTS.map((text, i) => ({ contents: text, metadata: { key: `k${i}` } })),
    config: { displayName: 'inline-run' },
  });
  t.match(created, { name: /^batches\/[a-z0-9]{36}$/, displayName: 'inline-run', state: 'JOB_STATE_PENDING', model: `models/${MODEL}` });
  t.equal(created.dest, undefined, 'no results while pending');

  const { job, states } = await waitForBatch(ai, created.name!);
  t.same(states, ['JOB_STATE_PENDING', 'JOB_STATE_RUNNING', 'JOB_STATE_SUCCEEDED'], 'every state, in order');
  t.ok(job.endTime && Date.parse(job.endTime) - Date.parse(job.createTime!) >= 1_500, 'it ended no sooner than batchDelayMs');
  const answers = job.dest?.inlinedResponses ?? [];
  t.same(
    answers.map((a) => a.metadata),
    PROMPTS.map((_, i) => ({ key: `k${i}` })),
    'one answer per request, in request order, each with its request metadata',
  );
  for (const [i, answer] of answers.entries()) {
    const text = textOfResponse(answer.response);
    t.ok(text.length > 0, `answer ${i} has text`);
    t.match(answer.response, { candidates: [{ finishReason: 'STOP' }], modelVersion: MODEL });
    t.equal(answer.response?.usageMetadata?.promptTokenCount, countTokens(PROMPTS[i]!), 'prompt tokens by the simulator\'s rule');
    t.equal(answer.response?.usageMetadata?.candidatesTokenCount, countTokens(text), 'output tokens by the simulator\'s rule');
  }

  const online = await ai.models.generateContent({ model: MODEL, contents: PROMPTS[0]! });
  t.same(Object.keys(answers[0]!.response!.usageMetadata!).sort(), Object.keys(online.usageMetadata!).sort(), 'batch usage metadata has the fields online usage has');
  const stats = sim.stats();
  t.same(stats.requests, { [MODEL]: { '200': 1 } }, 'online requests: only the online call');
  t.same(stats.batch.requests, { [MODEL]: { '200': 4 } }, 'batch-answered requests are counted apart');
  t.match(stats.batch, { created: 1, submitted: 4, states: { BATCH_STATE_SUCCEEDED: 1 } });
  t.equal(stats.quota[MODEL]!.admitted, 1, 'the batch took none of the online quota');
  t.match(stats.calls, { 'batches.create': 1, 'models.generateContent': 1 });
  t.ok(stats.calls['batches.get']! >= 3, 'polls are counted as calls, not as model requests');
});

t.test('partial failures: each failed request gets its own error with its key, the others their answers, and batchStats counts both', async (t) => {
  const { sim, ai } = await simAndClient(t, { batchDelayMs: 50, batchRequestErrorRate: 0.25 });
  const created = await ai.batches.create({ model: MODEL, src: Array.from({ length: 8 }, (_, i) => ({ contents: `Question ${i}: why is the sky blue?`, metadata: { key: `q${i}` } })), config: { displayName: 'partial' } });
  const { job } = await waitForBatch(ai, created.name!);
  t.equal(job.state, 'JOB_STATE_SUCCEEDED', 'a batch with failed requests still succeeds');
  const answers = job.dest!.inlinedResponses!;
  const failed = answers.filter((a) => a.error);
  t.equal(failed.length, 2, 'a quarter of the requests failed (spread evenly)');
  for (const a of failed) {
    t.same(a.error, { code: 13, message: 'An internal error has occurred.' }, 'a google.rpc.Status: gRPC code INTERNAL');
    t.equal(a.response, undefined);
  }
  t.same(answers.map((a) => a.metadata?.key), Array.from({ length: 8 }, (_, i) => `q${i}`), 'failed or not, every result keeps its key');
  t.equal(answers.filter((a) => a.response).length, 6);

  const raw = await rawBatch(sim.url, created.name!);
  t.same(raw.metadata.batchStats, { requestCount: '8', successfulRequestCount: '6', failedRequestCount: '2' }, 'counts are int64 strings (the SDK drops them)');
  t.equal(raw.done, true);
  t.same(raw.response, { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput', ...(raw.metadata.output as object) }, 'the output again under response');
  t.same(sim.stats().batch.requests, { [MODEL]: { '200': 6, '500': 2 } });
});

t.test('file input: a JSONL file uploaded with ai.files.upload, results downloaded with ai.files.download, one line per request with its key', async (t) => {
  const { sim, ai } = await simAndClient(t, { batchDelayMs: 50 });
  const dir = tempDir(t);
  const input = join(dir, 'requests.jsonl');
  const lines = [
    { key: 'a', request: { contents: [{ role: 'user', parts: [{ text: PROMPTS[0] }] }] } },
    // Protobuf JSON takes snake_case too, as the batch guide's examples use it.
    { key: 'b', request: { contents: [{ parts: [{ text: PROMPTS[1] }] }], generation_config: { max_output_tokens: 5 } } },
    { key: 'bad', request: 'not a request' },
    { key: 'c', request: { contents: [{ parts: [{ text: PROMPTS[2] }] }], systemInstruction: { parts: [{ text: 'Answer briefly.' }] } } },
  ];
  writeFileSync(input, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const file = await ai.files.upload({ file: input, config: { mimeType: 'jsonl', displayName: 'requests' } });
  t.match(file, { name: /^files\/[a-z0-9]{12}$/, displayName: 'requests', mimeType: 'jsonl', state: 'ACTIVE', source: 'UPLOADED', sizeBytes: String(readFileSync(input).length) });

  const created = await ai.batches.create({ model: MODEL, src: file.name!, config: { displayName: 'from-file' } });
  t.equal(created.state, 'JOB_STATE_PENDING');
  const { job } = await waitForBatch(ai, created.name!);
  t.equal(job.dest?.fileName, `files/batch-${created.name!.split('/')[1]}`, 'the results are a file named after the batch');
  t.equal(job.dest?.inlinedResponses, undefined);
  t.match((await rawBatch(sim.url, created.name!)).metadata, { inputConfig: { fileName: file.name } }, 'the input file is echoed');

  const out = join(dir, 'results.jsonl');
  await ai.files.download({ file: job.dest!.fileName!, downloadPath: out });
  const results = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { key: string; response?: { usageMetadata: { promptTokenCount: number }; candidates: { finishReason: string }[] }; error?: { code: number } });
  t.same(results.map((r) => r.key), ['a', 'b', 'bad', 'c'], 'one line per request, in order, each with its key');
  t.equal(results[0]!.response!.usageMetadata.promptTokenCount, countTokens(PROMPTS[0]!));
  t.equal(results[1]!.response!.candidates[0]!.finishReason, 'MAX_TOKENS', 'generation_config (snake_case) was applied');
  t.equal(results[2]!.error?.code, 3, 'an unreadable line is answered with INVALID_ARGUMENT, not a failed batch');
  t.equal(results[3]!.response!.usageMetadata.promptTokenCount, countTokens(`Answer briefly.\n${PROMPTS[2]}`), 'the system instruction counts, as one prompt with the contents');

  const rest = await fetch(`${sim.url}/download/v1beta/${job.dest!.fileName}:download?alt=media`, { headers: { 'x-goog-api-key': 'sim' } });
  t.equal(await rest.text(), readFileSync(out, 'utf8'), 'the REST download path gives the same bytes');
  await t.rejects(ai.files.download({ file: file.name!, downloadPath: join(dir, 'input-copy') }), /Only generated files can be downloaded/, 'an uploaded file cannot be downloaded, as in Gemini');
});

t.test('cancel ends a pending batch at once with no results; a second cancel is refused', async (t) => {
  const { sim, ai } = await simAndClient(t, { batchDelayMs: 10_000 });
  const created = await ai.batches.create({ model: MODEL, src: [{ contents: PROMPTS[0]!, metadata: { key: 'x' } }], config: { displayName: 'to-cancel' } });
  await ai.batches.cancel({ name: created.name! });
  const job = await ai.batches.get({ name: created.name! });
  t.equal(job.state, 'JOB_STATE_CANCELLED');
  t.equal(job.dest, undefined, 'no results');
  t.match((await rawBatch(sim.url, created.name!)).error, { code: 1 }, 'the operation carries CANCELLED');
  await t.rejects(ai.batches.cancel({ name: created.name! }), /FAILED_PRECONDITION/);
  t.same(sim.stats().batch.requests, {}, 'nothing was answered');
  t.match(sim.stats().batch.states, { BATCH_STATE_CANCELLED: 1 });
});

t.test('after a crash a client finds its batch by displayName in the list, page by page; a deleted batch is gone', async (t) => {
  const { ai } = await simAndClient(t, { batchDelayMs: 10_000 });
  const names = new Map<string, string>();
  for (let i = 0; i < 5; i++) {
    const b = await ai.batches.create({ model: MODEL, src: [{ contents: `Prompt ${i}` }], config: { displayName: `run-7/documents/${i}` } });
    names.set(`run-7/documents/${i}`, b.name!);
  }
  const seen: string[] = [];
  const pager = await ai.batches.list({ config: { pageSize: 2 } });
  for await (const b of pager) seen.push(b.displayName!);
  t.same(seen, [4, 3, 2, 1, 0].map((i) => `run-7/documents/${i}`), 'every batch once, newest first, across three pages');
  const found = [];
  for await (const b of await ai.batches.list({ config: { pageSize: 2 } })) if (b.displayName === 'run-7/documents/1') found.push(b);
  t.equal(found.length, 1);
  t.match(found[0], { name: names.get('run-7/documents/1'), state: 'JOB_STATE_PENDING' });

  await ai.batches.delete({ name: names.get('run-7/documents/2')! });
  const after: string[] = [];
  for await (const b of await ai.batches.list({ config: { pageSize: 10 } })) after.push(b.displayName!);
  t.notOk(after.includes('run-7/documents/2'), 'a deleted batch is not listed');
  await t.rejects(ai.batches.get({ name: names.get('run-7/documents/2')! }), /NOT_FOUND/);
});

t.test('batchOutcome makes batches end FAILED or EXPIRED, without results; it is read when each batch ends', async (t) => {
  const { sim, ai } = await simAndClient(t, { batchDelayMs: 30 });
  for (const [outcome, state, code] of [['failed', 'JOB_STATE_FAILED', 13], ['expired', 'JOB_STATE_EXPIRED', 4], ['succeeded', 'JOB_STATE_SUCCEEDED', undefined]] as const) {
    sim.options.batchOutcome = outcome;
    const created = await ai.batches.create({ model: MODEL, src: [{ contents: PROMPTS[0]! }], config: { displayName: outcome } });
    const { job } = await waitForBatch(ai, created.name!);
    t.equal(job.state, state, outcome);
    t.equal(job.dest === undefined, outcome !== 'succeeded', `${outcome}: results only on success`);
    t.equal((await rawBatch(sim.url, created.name!)).error?.code, code, `${outcome}: the operation's error`);
  }
});

t.test("the enqueued-tokens limit refuses a batch with a 429 that has no RetryInfo; room comes back when a batch ends", async (t) => {
  const { sim, ai } = await simAndClient(t, { batchDelayMs: 10_000 });
  const prompt = 'Write a paragraph about the harbour at dawn.';
  sim.options.batchEnqueuedTokensLimit = countTokens(prompt) * 3;
  const first = await ai.batches.create({ model: MODEL, src: [{ contents: prompt }, { contents: prompt }], config: { displayName: 'fits' } });
  const refused = await ai.batches.create({ model: MODEL, src: [{ contents: prompt }, { contents: prompt }], config: { displayName: 'too-much' } }).catch((err: unknown) => err);
  t.match(String(refused), /"code":429.*RESOURCE_EXHAUSTED/, 'two more requests would pass the limit');
  t.match(String(refused), /google\.rpc\.Help/, 'a Help link');
  t.notMatch(String(refused), /RetryInfo/, 'and no retry delay: the client must back off on its own');
  await ai.batches.create({ model: 'gemini-2.5-pro', src: [{ contents: prompt }, { contents: prompt }], config: { displayName: 'other-model' } });
  t.pass('another model has its own limit');
  await ai.batches.cancel({ name: first.name! });
  await ai.batches.create({ model: MODEL, src: [{ contents: prompt }, { contents: prompt }], config: { displayName: 'after-cancel' } });
  t.pass('an ended batch no longer counts');
  t.equal(sim.stats().batch.created, 3);
});

t.test('a bad batch is refused with 400 naming the field', async (t) => {
  const { sim, ai } = await simAndClient(t, { batchInlineMaxBytes: 2_000 });
  await t.rejects(ai.batches.create({ model: MODEL, src: [{ contents: 'hi' }] }), /batch\.display_name is required/);
  await t.rejects(ai.batches.create({ model: MODEL, src: [{ contents: 'x'.repeat(3_000) }], config: { displayName: 'big' } }), /Request payload size exceeds the limit: 2000 bytes/, 'inlined requests above the size limit');
  await t.rejects(ai.batches.create({ model: MODEL, src: 'files/nosuchfile', config: { displayName: 'missing' } }), /PERMISSION_DENIED/, 'an input file that does not exist');
  const post = (body: unknown) => fetch(`${sim.url}/v1beta/models/${MODEL}:batchGenerateContent`, { method: 'POST', headers: { 'x-goog-api-key': 'sim' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: { message: string } } }));
  t.match(await post({ batch: { displayName: 'x', inputConfig: { requests: { requests: [] } } } }), { status: 400, body: { error: { message: /at least one request/ } } });
  t.match(await post({ batch: { displayName: 'x', inputConfig: { requests: { requests: [{ metadata: { key: 'k' } }] } } } }), { status: 400, body: { error: { message: /requests\[0\]\.request is required/ } } });
  t.equal(sim.stats().batch.created, 0, 'no batch was made');
});
