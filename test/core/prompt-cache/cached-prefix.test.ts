import t from 'tap';
import { cacheDisplayName, parseCacheDisplayName } from '../../../core/prompt-cache/cache-display-name.js';
import { cachedPrefixes, isRunConstant, promptCacheKey } from '../../../core/prompt-cache/cached-prefix.js';
import { isCacheGone } from '../../../core/gemini/cache-errors.js';
import { PromptLibrary } from '../../../core/prompts/prompt-library.js';
import { renderTemplate } from '../../../core/prompts/render-template.js';
import type { RunSpec } from '../../../core/spec/run-spec-schema.js';
import { DOCUMENT_STAGES, CHAT_STAGES } from '../../../core/stages.js';

const prompts = new PromptLibrary();
const universe = 'x'.repeat(8000); // 2,000 estimated tokens

t.test('only a system template every task renders the same can be cached', async (t) => {
  t.ok(isRunConstant('You write.\n<universe>\n{{universe}}\n</universe>'));
  t.ok(isRunConstant('No values at all.'));
  t.notOk(isRunConstant('<trait>{{trait}}</trait>'), "a task's value");
  t.notOk(isRunConstant('{{universe}}{{#feedback}}\n{{feedback}}{{/feedback}}'), 'a per-task section');
  t.notOk(isRunConstant(prompts.get('chat-responses').system!), 'chat-responses: its system instruction is the trait, per task');
});

t.test('the built-in templates: every stage whose system instruction holds only the universe gets one, grouped by model and text', async (t) => {
  const spec = { universe, documents: { model: 'gemini-2.5-flash', revise: true }, chats: { responseModel: 'gemini-2.5-pro' } } as unknown as RunSpec;
  const found = cachedPrefixes(spec, [...DOCUMENT_STAGES, ...CHAT_STAGES], prompts, 1000);
  const expected = [...DOCUMENT_STAGES, ...CHAT_STAGES].filter((s) => {
    const system = prompts.get(s).system;
    return system !== undefined && isRunConstant(system);
  });
  t.ok(expected.includes('documents'), 'documents at least');
  t.same(found.flatMap((p) => p.stages).sort(), [...expected].sort(), 'exactly the stages with a run-constant system.md');
  const documents = found.find((p) => p.stages.includes('documents'))!;
  t.equal(documents.system, renderTemplate(prompts.get('documents').system!, { universe }), 'the text the workers render and send');
  t.equal(documents.key, promptCacheKey('gemini-2.5-flash', documents.system));
  t.equal(documents.model, 'gemini-2.5-flash');
});

t.test('one prefix per (model, text): stages share a cache only when both match', async (t) => {
  const same = 'Shared.\n{{universe}}';
  const spec = {
    universe,
    documents: { model: 'gemini-2.5-flash' },
    stages: { 'doc-ideas': { model: 'gemini-2.5-flash-lite' } },
    prompts: { 'doc-types': { system: same }, 'doc-ideas': { system: same }, documents: { system: same }, revise: { system: 'Other.\n{{universe}}' } },
  } as unknown as RunSpec;
  const found = cachedPrefixes(spec, ['doc-types', 'doc-ideas', 'documents', 'revise'], prompts, 1000);
  t.same(
    found.map((p) => [p.model, p.stages]),
    [
      ['gemini-2.5-flash', ['doc-types', 'documents']],
      ['gemini-2.5-flash-lite', ['doc-ideas']],
      ['gemini-2.5-flash', ['revise']],
    ],
  );
  t.equal(new Set(found.map((p) => p.key)).size, 3);
});

t.test('below the threshold (estimated at 4 characters a token), or with the threshold 0, nothing', async (t) => {
  const spec = { universe: 'y'.repeat(3900), documents: {} } as unknown as RunSpec;
  const documents = renderTemplate(prompts.get('documents').system!, { universe: spec.universe });
  const estimate = Math.ceil(documents.length / 4);
  t.equal(cachedPrefixes(spec, ['documents'], prompts, estimate).length, 1, 'at the threshold: cached');
  t.equal(cachedPrefixes(spec, ['documents'], prompts, estimate + 1).length, 0, 'one token short: not');
  t.equal(cachedPrefixes(spec, ['documents'], prompts, 0).length, 0, '0 turns explicit caching off');
});

t.test("display names name the farm, run and key; other farms' caches and foreign names are not ours", async (t) => {
  const name = cacheDisplayName('sdf', 'run_0abc', 'k1');
  t.same(parseCacheDisplayName('sdf', name), { runId: 'run_0abc', key: 'k1' });
  t.equal(parseCacheDisplayName('sdf2', name), undefined);
  t.equal(parseCacheDisplayName('sdf', 'my cache'), undefined);
  t.equal(parseCacheDisplayName('sdf', undefined), undefined);
  const long = 'p'.repeat(100);
  const longName = cacheDisplayName(long, 'run_0mx69z4vp2915019110', promptCacheKey('m', 's'));
  t.ok(longName.length <= 128, `within Gemini's 128 characters (${longName.length})`);
  t.same(parseCacheDisplayName(long, longName), { runId: 'run_0mx69z4vp2915019110', key: promptCacheKey('m', 's') });
});

t.test('a cache that is gone: 403/404/400 about the cached content; nothing else', async (t) => {
  const err = (status: number, message: string) => Object.assign(new Error(message), { status });
  t.ok(isCacheGone(err(403, '{"error":{"code":403,"message":"CachedContent not found (or permission denied)"}}')));
  t.ok(isCacheGone(err(400, 'Cache content 123 is expired.')));
  t.ok(isCacheGone(err(404, 'cachedContents/abc not found')));
  t.notOk(isCacheGone(err(403, 'API key not valid')), 'a 403 about something else');
  t.notOk(isCacheGone(err(500, 'CachedContent backend error')), 'a server error is retried, not a fallback');
  t.notOk(isCacheGone(new Error('CachedContent not found')), 'no status');
});
