import type { RouteEntry } from './route-table.js';

/**
 * Generates malformed and hostile HTTP requests for every route of the API. Each request is built
 * to be refused: it must get a 4xx JSON error, never a 2xx (a "hostile" request that is accepted
 * is a hole) and never a 5xx (an input the server did not expect).
 */
export interface HostileRequest {
  category: string;
  method: string;
  /** Raw request target, sent as is (no normalization of `..` or escapes). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface QueryParam {
  name: string;
  type: 'integer' | 'number' | 'boolean' | 'string';
  enum?: string[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
}

export interface HostileOptions {
  routes: RouteEntry[];
  /** A token of the admin role: requests that attack something other than auth carry it. */
  token: string;
  /** An existing run, so attacks on queries and bodies reach the validation behind the id. */
  runId: string;
  /** Query parameters each route declares, by `METHOD url`. */
  queryParams: Record<string, QueryParam[]>;
  /** Routes that read a body (`METHOD url`): they get every hostile body, the others only bodies that cannot be parsed. */
  bodyRoutes: Set<string>;
  /** Paths served without a token (health, metrics, docs, the run page's files). */
  openPaths: (url: string) => boolean;
  seed?: number;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const VALID_SPEC = {
  name: 'fuzz',
  universe: '- The assistant admits uncertainty.\n- The assistant cites sources.',
  keyFacts: ['The assistant admits uncertainty.'],
  traits: ['admits uncertainty'],
  documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1, revise: false },
  chats: { promptsPerTrait: 1 },
  stages: { documents: { temperature: 1, maxOutputTokens: 1000 } },
  limits: { 'gemini-2.5-flash': { rpm: 10 } },
  filters: { rules: [{ name: 'no-lorem', pattern: 'lorem ipsum' }] },
  seed: 1,
  cache: true,
  budget: { usd: 5 },
};

const HOSTILE_IDS = [
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '../../../etc/passwd',
  '%2e%2e%2f%2e%2e%2fpackage.json',
  'run_abc%00def',
  '%00',
  `run_${'a'.repeat(5000)}`,
  'RUN_ABC',
  'run_abc%20def',
  'run_%FF%FE',
  '%E0%A4%A',
  '__proto__',
  'constructor',
  'run_doesnotexist',
  'run_..',
  "run_x'%3B%20DROP%20TABLE",
  '%7B%7B7*7%7D%7D',
];

/** A value of the wrong kind for each JSON type a spec field can have. */
const WRONG_FOR: Record<string, unknown[]> = {
  string: [123, true, null, [], {}, ['a']],
  integer: ['1', 1.5, -1, 0, null, [], {}, 1e400, -1e308, Number.MAX_SAFE_INTEGER * 4, '1e309'],
  number: ['x', -5, null, [], {}, 1e400],
  boolean: ['yes', 1, null, [], {}],
  object: ['x', 7, true, [], null],
  array: ['x', 7, {}, null, [[]]],
};

/** Paths of fields in VALID_SPEC with their JSON type, for type swaps. */
function fieldsOf(value: unknown, path: string[] = []): { path: string[]; type: string }[] {
  const out: { path: string[]; type: string }[] = [];
  if (Array.isArray(value)) {
    out.push({ path, type: 'array' });
    value.forEach((v, i) => out.push(...fieldsOf(v, [...path, String(i)])));
  } else if (value && typeof value === 'object') {
    if (path.length > 0 && path[path.length - 2] !== 'limits') out.push({ path, type: 'object' });
    for (const [k, v] of Object.entries(value)) out.push(...fieldsOf(v, [...path, k]));
  } else if (typeof value === 'number') {
    out.push({ path, type: Number.isInteger(value) && !path.includes('temperature') && !path.includes('usd') ? 'integer' : 'number' });
  } else if (typeof value === 'boolean') {
    out.push({ path, type: 'boolean' });
  } else if (typeof value === 'string') {
    out.push({ path, type: 'string' });
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> = target;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path[path.length - 1]!] = value;
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Specs that are each invalid for a reason the API must name. */
export function mutatedSpecs(rand: () => number, count: number): { category: string; text: string }[] {
  const out: { category: string; text: string }[] = [];
  // Fields whose wrong type is always refused: names are free text, so a string for a string is fine.
  const fields = fieldsOf(VALID_SPEC).filter((f) => f.path.length > 0);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const semantic: [string, (s: Record<string, unknown>) => void][] = [
    ['missing universe', (s) => delete s.universe],
    ['blank universe', (s) => (s.universe = '   \n\t ')],
    ['asks for nothing', (s) => { delete s.documents; delete s.chats; }],
    ['unknown root field', (s) => (s[`x${Math.floor(rand() * 1e6)}`] = 1)],
    ['unknown nested field', (s) => ((s.documents as Record<string, unknown>).extra = true)],
    ['unknown stage', (s) => (s.stages = { nope: {} })],
    ['temperature out of range', (s) => (s.stages = { documents: { temperature: 2 + rand() * 1e6 } })],
    ['max tokens out of range', (s) => (s.stages = { documents: { maxOutputTokens: pick([0, 65537, 1e12]) } })],
    ['negative budget', (s) => (s.budget = { usd: -rand() })],
    ['huge budget', (s) => (s.budget = { usd: 1e12 })],
    ['zero quota', (s) => (s.limits = { 'gemini-2.5-flash': { rpm: 0 } })],
    ['fractional quota', (s) => (s.limits = { 'gemini-2.5-flash': { tpm: 1.5 } })],
    ['backreference rule', (s) => (s.filters = { rules: [{ name: 'r', pattern: '(a)\\1' }] })],
    ['lookahead rule', (s) => (s.filters = { rules: [{ name: 'r', pattern: 'a(?=b)' }] })],
    ['broken regex rule', (s) => (s.filters = { rules: [{ name: 'r', pattern: '(unclosed' }] })],
    ['negative seed', (s) => (s.seed = -1)],
    ['seed beyond 2^53', (s) => (s.seed = 2 ** 60)],
    ['unknown mode', (s) => (s.mode = 'turbo')],
    ['empty name', (s) => (s.name = '')],
    ['name too long', (s) => (s.name = 'n'.repeat(201))],
    ['empty key facts', (s) => (s.keyFacts = [])],
    ['blank key fact', (s) => (s.keyFacts = [''])],
    ['deeply nested universe', (s) => (s.universe = nest(2000))],
    ['huge fan-out', (s) => (s.documents = { docTypesPerFact: 1e6, ideasPerType: 1e6, docsPerIdea: 1e6 })],
    ['huge universe', (s) => (s.universe = 'u'.repeat(5_000_000))],
  ];
  for (let i = 0; i < count; i++) {
    const spec = clone(VALID_SPEC) as Record<string, unknown>;
    if (i % 2 === 0) {
      const field = pick(fields);
      const wrong = pick(WRONG_FOR[field.type]!);
      setPath(spec, field.path, wrong);
      out.push({ category: `spec: ${field.type} field ${field.path.join('.')} set to ${JSON.stringify(wrong)?.slice(0, 20)}`, text: JSON.stringify(spec) });
    } else {
      const [name, mutate] = semantic[(i >> 1) % semantic.length]!;
      mutate(spec);
      out.push({ category: `spec: ${name}`, text: JSON.stringify(spec) });
    }
  }
  return out;
}

function nest(depth: number): unknown {
  let value: unknown = 'x';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

const YAML_BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`), 'universe: *i', 'documents: {docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1}'].join('\n');

/** Bodies any route that parses a body must refuse, whatever the route does with a good one. */
function hostileBodies(): { category: string; contentType?: string; body: Buffer; unparseable?: boolean }[] {
  const json = (s: string) => Buffer.from(s, 'utf8');
  const spec = JSON.stringify(VALID_SPEC);
  const invalidUtf8 = Buffer.concat([json(spec.slice(0, spec.indexOf('admits'))), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), json(spec.slice(spec.indexOf('admits')))]);
  return [
    { unparseable: true, category: 'body: invalid JSON', contentType: 'application/json', body: json('{"universe": "x",') },
    { unparseable: true, category: 'body: empty JSON', contentType: 'application/json', body: Buffer.alloc(0) },
    { unparseable: true, category: 'body: invalid UTF-8 in JSON', contentType: 'application/json', body: invalidUtf8 },
    { unparseable: true, category: 'body: invalid UTF-8 in YAML', contentType: 'application/yaml', body: invalidUtf8 },
    { category: 'body: nesting 100k deep', contentType: 'application/json', body: json('['.repeat(100_000) + ']'.repeat(100_000)) },
    { category: 'body: YAML nesting 10k deep', contentType: 'application/yaml', body: json('universe: ' + '['.repeat(10_000) + ']'.repeat(10_000)) },
    { unparseable: true, category: 'body: YAML alias bomb', contentType: 'application/yaml', body: json(YAML_BOMB) },
    { unparseable: true, category: 'body: YAML unknown tag', contentType: 'application/yaml', body: json('universe: !!js/function "function () { return 1 }"\ndocuments: {docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1}') },
    { unparseable: true, category: 'body: YAML duplicate keys', contentType: 'application/yaml', body: json('universe: a\nuniverse: b\ndocuments: {docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1}') },
    { unparseable: true, category: 'body: YAML several documents', contentType: 'application/yaml', body: json('universe: a\n---\nuniverse: b\n') },
    { unparseable: true, category: 'body: __proto__ pollution', contentType: 'application/json', body: json(`{"__proto__": {"admin": true}, ${spec.slice(1)}`) },
    { unparseable: true, category: 'body: constructor pollution', contentType: 'application/json', body: json(`{"constructor": {"prototype": {"admin": true}}, ${spec.slice(1)}`) },
    { category: 'body: JSON string', contentType: 'application/json', body: json('"a spec"') },
    { category: 'body: JSON null', contentType: 'application/json', body: json('null') },
    { category: 'body: JSON array', contentType: 'application/json', body: json('[1,2,3]') },
    { category: 'body: JSON number', contentType: 'application/json', body: json('1e999') },
    { unparseable: true, category: 'body: text/plain', contentType: 'text/plain', body: json(spec) },
    { unparseable: true, category: 'body: application/xml', contentType: 'application/xml', body: json('<spec/>') },
    { unparseable: true, category: 'body: multipart', contentType: 'multipart/form-data; boundary=x', body: json('--x\r\n\r\n--x--') },
    { unparseable: true, category: 'body: oversized (11 MiB)', contentType: 'application/json', body: json(JSON.stringify({ ...VALID_SPEC, universe: 'u'.repeat(11 * 1024 * 1024) })) },
  ];
}

/** Every hostile request for every route. */
export function hostileRequests(options: HostileOptions): HostileRequest[] {
  const rand = mulberry32(options.seed ?? 1);
  const auth = { authorization: `Bearer ${options.token}` };
  const out: HostileRequest[] = [];
  const concrete = (url: string, id = options.runId) => url.replace(/:id\b/g, id).replace(/\*$/, 'index.html');

  for (const route of options.routes) {
    const key = `${route.method} ${route.url}`;
    const path = concrete(route.url);
    // Tokens: missing, wrong, malformed, the right one in the wrong scheme.
    if (!options.openPaths(route.url)) {
      const wrong: [string, Record<string, string>][] = [
        ['auth: missing token', {}],
        ['auth: wrong token', { authorization: 'Bearer wrong-token' }],
        ['auth: empty bearer', { authorization: 'Bearer ' }],
        ['auth: token as Basic', { authorization: `Basic ${Buffer.from(`x:${options.token}x`).toString('base64')}` }],
        ['auth: token prefix', { authorization: `Bearer ${options.token.slice(0, -1)}` }],
        ['auth: token plus suffix', { authorization: `Bearer ${options.token}0` }],
        ['auth: 8 KB token', { authorization: `Bearer ${'t'.repeat(8000)}` }],
        ['auth: lowercase scheme only', { authorization: 'bearer' }],
      ];
      for (const [category, headers] of wrong) out.push({ category, method: route.method, path, headers });
    }
    // Hostile ids, each a path the route cannot resolve.
    if (route.url.includes(':id')) {
      // A well-formed unknown id is hostile only where data is read: the open page is served for it and says so itself.
      const ids = options.openPaths(route.url) ? HOSTILE_IDS.filter((id) => id !== 'run_doesnotexist') : HOSTILE_IDS;
      for (const id of ids) out.push({ category: 'path: hostile id', method: route.method, path: concrete(route.url, id), headers: auth });
    }
    // Declared query parameters with values of the wrong kind or range.
    for (const param of options.queryParams[key] ?? []) {
      for (const value of badQueryValues(param)) {
        out.push({ category: `query: ${param.name}=${value.slice(0, 16)}`, method: route.method, path: `${path}?${param.name}=${value}`, headers: auth });
      }
    }
    // Bodies every body-taking route must refuse before its handler runs.
    if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method)) {
      const takesBody = options.bodyRoutes.has(key);
      for (const body of hostileBodies().filter((b) => takesBody || b.unparseable)) {
        out.push({ category: body.category, method: route.method, path, headers: { ...auth, ...(body.contentType ? { 'content-type': body.contentType } : {}) }, body: body.body });
      }
    }
  }

  // Specs: generated mutations, as JSON and as YAML, to the submit route and its dry run.
  const submit = options.routes.find((r) => r.method === 'POST' && r.url === '/v1/runs');
  if (submit) {
    for (const [i, spec] of mutatedSpecs(rand, 700).entries()) {
      const dry = i % 3 === 0 ? '?dryRun=true' : '';
      const yaml = i % 4 === 1;
      out.push({ category: spec.category.replace(/ set to .*/, ''), method: 'POST', path: `/v1/runs${dry}`, headers: { ...auth, 'content-type': yaml ? 'application/yaml' : 'application/json' }, body: Buffer.from(spec.text) });
    }
  }
  const patch = options.routes.find((r) => r.method === 'PATCH' && r.url === '/v1/runs/:id');
  if (patch) {
    const bodies = [{}, { budget: {} }, { budget: { usd: -1 } }, { budget: { usd: 'x' } }, { budget: 5 }, { budget: { usd: 1e12 } }, { other: 1 }, { budget: { usd: 1, extra: 2 } }, [], 'x'];
    for (const body of bodies) out.push({ category: 'patch: bad change', method: 'PATCH', path: concrete(patch.url), headers: { ...auth, 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) });
  }

  // Methods no route serves at each path, and traversal out of the static folders.
  for (const route of options.routes) {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'POST']) {
      if (!options.routes.some((r) => r.url === route.url && r.method === method)) out.push({ category: 'method: not served', method, path: concrete(route.url), headers: auth });
    }
  }
  for (const traversal of ['/ui/../../../../etc/passwd', '/ui/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/ui/..%2f..%2fpackage.json', '/docs/static/..%2f..%2f..%2fpackage.json', '/v1/runs/..%2f..%2fhealthz', '/%2e%2e/%2e%2e/etc/passwd', '//etc/passwd', '/v1/../../etc/passwd']) {
    out.push({ category: 'path: traversal', method: 'GET', path: traversal, headers: auth });
  }
  return out;
}

function badQueryValues(param: QueryParam): string[] {
  // A free-text parameter has no value that is wrong in itself.
  if (param.type === 'string' && !param.enum && !param.pattern) return [];
  const values = ['%FF%FE', '%00', 'x'.repeat(3000)];
  if (param.type === 'integer' || param.type === 'number') {
    values.push('abc', '1e309', '-1e309', 'NaN', '[]');
    if (param.type === 'integer') values.push('1.5');
    if (param.minimum !== undefined) values.push(String(param.minimum - 1));
    values.push(String(param.maximum !== undefined ? param.maximum + 1 : '99999999999999999999999'));
  } else if (param.type === 'boolean') {
    values.push('maybe', '2', 'yes%00');
  } else if (param.enum) {
    values.push('../../etc/passwd', '<script>', param.enum[0]!.toUpperCase() + 'x');
  } else {
    values.push('<script>alert(1)</script>', '../../etc/passwd');
  }
  return values;
}
