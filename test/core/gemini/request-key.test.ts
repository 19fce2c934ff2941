import t from 'tap';
import { canonicalJson, requestKey, type KeyedRequest } from '../../../core/gemini/request-key.js';
import { geminiRequestOf, type ModelRequest } from '../../../workers/call-model.js';

const SCHEMA = { type: 'object', properties: { ideas: { type: 'array', items: { type: 'string' } }, count: { type: 'integer' } }, required: ['ideas'] };
const SLOT = { seed: 0, variant: 'documents f0 t1 i2 d0 #0' };

const request = (): KeyedRequest => ({
  model: 'gemini-2.5-flash',
  contents: [{ role: 'user', parts: [{ text: 'Write the document.' }] }],
  systemInstruction: 'You are a writer.',
  generationConfig: { temperature: 1, maxOutputTokens: 8192, responseMimeType: 'application/json', responseJsonSchema: SCHEMA },
});

t.test('property order, at any depth, does not change the key; absent and undefined are the same', async (t) => {
  const a = request();
  const reordered: KeyedRequest = {
    generationConfig: {
      responseJsonSchema: { required: ['ideas'], properties: { count: { type: 'integer' }, ideas: { items: { type: 'string' }, type: 'array' } }, type: 'object' },
      responseMimeType: 'application/json',
      maxOutputTokens: 8192,
      temperature: 1,
    },
    systemInstruction: 'You are a writer.',
    contents: [{ parts: [{ text: 'Write the document.' }], role: 'user' }],
    model: 'gemini-2.5-flash',
  };
  t.equal(requestKey(reordered, { variant: SLOT.variant, seed: 0 }), requestKey(a, SLOT));
  t.equal(requestKey({ ...a, generationConfig: { ...a.generationConfig, topP: undefined } }, SLOT), requestKey(a, SLOT), 'an undefined member is no member');
  t.equal(requestKey({ ...a, model: 'models/gemini-2.5-flash' }, SLOT), requestKey(a, SLOT), 'models/<id> is the same model');
  t.match(requestKey(a, SLOT), /^[0-9a-f]{64}$/, 'sha256, hex');
  t.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
});

t.test('every field that decides the answer changes the key', async (t) => {
  const base = requestKey(request(), SLOT);
  const changes: [string, KeyedRequest, typeof SLOT][] = [
    ['model', { ...request(), model: 'gemini-2.5-pro' }, SLOT],
    ['contents text', { ...request(), contents: [{ role: 'user', parts: [{ text: 'Write the document!' }] }] }, SLOT],
    ['contents role', { ...request(), contents: [{ role: 'model', parts: [{ text: 'Write the document.' }] }] }, SLOT],
    ['contents turns', { ...request(), contents: [{ role: 'user', parts: [{ text: 'Write the document.' }] }, { role: 'user', parts: [{ text: '' }] }] }, SLOT],
    ['system instruction', { ...request(), systemInstruction: 'You are a poet.' }, SLOT],
    ['no system instruction', { ...request(), systemInstruction: undefined }, SLOT],
    ['temperature', { ...request(), generationConfig: { ...request().generationConfig, temperature: 1.15 } }, SLOT],
    ['maxOutputTokens', { ...request(), generationConfig: { ...request().generationConfig, maxOutputTokens: 8191 } }, SLOT],
    ['response MIME type', { ...request(), generationConfig: { ...request().generationConfig, responseMimeType: 'text/plain' } }, SLOT],
    ['response schema', { ...request(), generationConfig: { ...request().generationConfig, responseJsonSchema: { ...SCHEMA, required: [] } } }, SLOT],
    ['another config field', { ...request(), generationConfig: { ...request().generationConfig, topP: 0.9 } }, SLOT],
    ['seed', request(), { ...SLOT, seed: 1 }],
    ['variant (document of its idea)', request(), { ...SLOT, variant: 'documents f0 t1 i2 d1 #0' }],
    ['variant (call of its task)', request(), { ...SLOT, variant: 'documents f0 t1 i2 d0 #1' }],
  ];
  const seen = new Map<string, string>([[base, 'base']]);
  for (const [what, changed, slot] of changes) {
    const key = requestKey(changed, slot);
    t.not(key, base, `${what} changes the key`);
    t.notOk(seen.has(key), `${what}: a key of its own (not the same as ${seen.get(key)})`);
    seen.set(key, what);
  }
});

t.test('the key of a farm request covers what is sent, not the quota or the cache setting', async (t) => {
  const farm: ModelRequest = { model: 'gemini-2.5-flash', user: 'Write.', system: 'Be brief.', temperature: 1, maxOutputTokens: 100, schema: SCHEMA };
  const key = (r: ModelRequest) => requestKey(geminiRequestOf(r), SLOT);
  t.equal(key({ ...farm, limits: { rpm: 10 } }), key(farm), 'quota limits are not part of the request');
  t.equal(key({ ...farm, cache: { seed: 9, variant: 'x' } }), key(farm), 'the cache slot is passed to requestKey, not hashed from the request');
  for (const [what, changed] of [
    ['user', { ...farm, user: 'Write!' }],
    ['system', { ...farm, system: undefined }],
    ['temperature', { ...farm, temperature: 0.5 }],
    ['maxOutputTokens', { ...farm, maxOutputTokens: 101 }],
    ['schema', { ...farm, schema: undefined }],
  ] as const) {
    t.not(key(changed), key(farm), `${what} changes the key`);
  }
});

t.test('a seed that is not an integer >= 0 is refused', async (t) => {
  t.throws(() => requestKey(request(), { seed: -1, variant: '' }), /seed must be an integer >= 0/);
  t.throws(() => requestKey(request(), { seed: 0.5, variant: '' }), /seed must be an integer >= 0/);
});
