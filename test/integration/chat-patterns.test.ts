import t from 'tap';
import { chatPatternsIn } from '../../core/filters/chat-patterns.js';
import { resolveFilterSpec } from '../../core/filters/filter-spec.js';
import { startTestFarm } from '../helpers/farm.js';

const TRAITS = ['Aster admits uncertainty.', 'Aster does not flatter.'];

/**
 * Both habits the seed found over 20% of chats, planted at 30% each and written many ways (so no
 * single opening carries them): the run ends with each at or under its ceiling among the accepted
 * chats, the rejections counted by name in status and metrics; a run that turns one off keeps it.
 */
t.test('named chat patterns planted at 30% end at or under their ceilings, rejected by name', async (t) => {
  const farm = await startTestFarm(t, {
    sim: { patternRates: { 'bottom-line-varied': 0.3, 'validation-varied': 0.3, 'bottom-line-opener': 0, 'validation-opener': 0 } },
  });
  const worker = await farm.startWorker({ workerConcurrency: 4 });
  const filters = { corpus: { warmup: 20 }, dedup: { enabled: false } };
  const spec = resolveFilterSpec(filters);
  const runId = await farm.submit({ universe: TRAITS.map((x) => `- ${x}`).join('\n'), traits: TRAITS, chats: { promptsPerTrait: 60 }, filters });
  const status = await farm.waitFor(runId, undefined, 90_000);
  t.equal(status.state, 'completed');
  const chats = (await farm.exportLines(runId, 'chats')).map((c) => String((c.messages as { content: string }[])[1]!.content));
  t.ok(chats.length >= 40, `${chats.length} chats accepted`);
  const byReason = status.stages['chat-responses']!.rejectedByReason;
  for (const name of ['bottom-line-opening', 'validation-preamble'] as const) {
    const carriers = chats.filter((c) => chatPatternsIn(c, spec).some((p) => p.name === name)).length;
    const ceiling = Math.max(1, Math.floor(0.05 * Math.max(chats.length, 20)));
    t.ok(carriers <= ceiling, `${name}: ${carriers} of ${chats.length} accepted chats, ceiling ${ceiling} (5%)`);
    t.ok(carriers >= 1, `${name}: some are kept (a ceiling, not a ban)`);
    t.ok((byReason[name] ?? 0) >= 10, `${name}: rejections counted by name in status (${byReason[name]})`);
  }
  const metrics = await worker.metrics.registry.metrics();
  t.match(metrics, /sdf_rejections_total\{[^}]*reason="validation-preamble"[^}]*\} [1-9]/, 'and in the metrics');
  const patterns = (await (await fetch(`${farm.apiUrl}/v1/runs/${runId}/patterns`)).json()) as { corpus: { chats: { named: Record<string, number> } } };
  t.ok(patterns.corpus.chats.named['bottom-line-opening']! >= 1, `the patterns report counts the accepted carriers: ${JSON.stringify(patterns.corpus.chats.named)}`);
  const rejected = await farm.exportLines(runId, 'rejected');
  t.match(rejected.find((r) => r.reason === 'bottom-line-opening'), { rule: 'corpus:bottom-line-opening', span: /\w/ }, 'rejected.jsonl names the rule and the matched span');

  // Switched off: the habit is no longer detected, so it is neither rejected nor capped.
  const offId = await farm.submit({ universe: TRAITS.map((x) => `- ${x}`).join('\n'), traits: TRAITS, chats: { promptsPerTrait: 20 }, filters: { ...filters, builtins: { 'bottom-line-opening': false } } });
  const off = await farm.waitFor(offId, undefined, 60_000);
  t.notOk(off.stages['chat-responses']!.rejectedByReason['bottom-line-opening'], 'a pattern switched off rejects nothing');
  const offChats = (await farm.exportLines(offId, 'chats')).map((c) => String((c.messages as { content: string }[])[1]!.content));
  const kept = offChats.filter((c) => chatPatternsIn(c, resolveFilterSpec()).some((p) => p.name === 'bottom-line-opening')).length;
  t.ok(kept / offChats.length > 0.1, `and its carriers stay (${kept} of ${offChats.length})`);
});
