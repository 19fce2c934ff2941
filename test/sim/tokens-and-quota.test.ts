import t from 'tap';
import { GoogleGenAI } from '@google/genai';
import { roughTokens } from '../../workers/call-model.js';
import { SimQuota } from '../../sim/quota.js';
import { startSim } from '../../sim/index.js';
import { countTokens, truncateToTokens } from '../../sim/tokens.js';

const PROMPTS = [
  'Write a short blog post about why Aster admits uncertainty. Use a warm, plain tone; avoid lists.',
  '{"ideas":[{"idea":"a diary entry","suitable":true},{"idea":"a memo","suitable":false}]}',
  '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster keeps answers short.\n- Aster never pads an answer.',
  'It\'s the user\'s turn: "Can you help me plan a trip to Lisbon in May?"',
];

t.test('the simulator counts tokens its own way: words × 1.3 plus punctuation, not the farm\'s characters / 4', async (t) => {
  t.equal(countTokens('Hello, world!'), 3 + 2, '2 words → 3 tokens, plus 2 marks');
  t.equal(countTokens('It\'s fine.'), 3 + 1, 'an apostrophe belongs to its word');
  t.equal(countTokens(''), 1);
  // If the rule agreed with the farm's estimate, every limiter settle would be a no-op and its bugs
  // invisible. Any two rules agree on some texts by chance; these samples are ones where they do not.
  const differing = PROMPTS.filter((p) => countTokens(p) !== roughTokens(p));
  t.equal(differing.length, PROMPTS.length, `every sample prompt counts differently from the estimate: ${PROMPTS.map((p) => `${countTokens(p)} vs ${roughTokens(p)}`).join(', ')}`);
});

t.test('truncateToTokens keeps the longest prefix within the cap, always shorter than the text', async (t) => {
  for (const text of PROMPTS) {
    for (const cap of [1, 5, 12, 1000]) {
      const cut = truncateToTokens(text, cap);
      t.ok(text.startsWith(cut) && cut.length < text.length, 'a strict prefix');
      if (cut.length > 0) t.ok(countTokens(cut) <= cap, `${countTokens(cut)} ≤ ${cap}`);
      if (cut.length < text.length - 1) t.ok(countTokens(text.slice(0, cut.length + 1)) > cap, 'one more character would exceed the cap');
    }
  }
});

t.test('the quota window is configurable, and the fullest window is recorded, refused requests included', async (t) => {
  const quota = new SimQuota({ rpm: 3, tpm: 0, rpd: 0, windowMs: 1000 });
  const at = (ms: number) => quota.admit('m', 10, 1_000_000 + ms).ok;
  t.same([at(0), at(100), at(200), at(300)], [true, true, true, false], 'the fourth request in one window is refused');
  t.equal(at(999), false, 'still inside the first window');
  t.equal(at(1001), true, 'the first request has left the window');
  t.same(quota.peaks(), { m: { windowMs: 1000, requests: 5, admitted: 3 } });
  t.equal(new SimQuota({ rpm: 1, tpm: 0, rpd: 0 }).windowMs, 60_000, 'a minute by default');
});

t.test('usageMetadata and countTokens answer with the simulator\'s rule through the real SDK', async (t) => {
  const sim = await startSim({ port: 0 });
  t.teardown(() => sim.close());
  const ai = new GoogleGenAI({ apiKey: 'sim', httpOptions: { baseUrl: sim.url } });
  const text = PROMPTS[0]!;
  const counted = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: text });
  t.equal(counted.totalTokens, countTokens(text));
  const answer = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: text });
  t.equal(answer.usageMetadata?.promptTokenCount, countTokens(text));
  t.equal(answer.usageMetadata?.candidatesTokenCount, countTokens(answer.text ?? ''));
  t.same(sim.stats().quota['gemini-2.5-flash'], { windowMs: 60_000, requests: 1, admitted: 1 }, 'countTokens is not a generate request and uses no quota');
});

t.test('the requests-per-day quota resets at midnight Pacific time, as Gemini\'s does, not at midnight UTC', async (t) => {
  const quota = new SimQuota({ rpm: 0, tpm: 0, rpd: 2, windowMs: 1000 });
  // 23:00 UTC on 1 March is 15:00 PST: the same Pacific day until 08:00 UTC on the 2nd.
  const evening = Date.parse('2026-03-01T23:00:00Z');
  t.ok(quota.admit('m', 1, evening).ok);
  t.ok(quota.admit('m', 1, evening + 1).ok);
  const refused = quota.admit('m', 1, Date.parse('2026-03-02T00:30:00Z'));
  t.match(refused, { ok: false, quotaId: 'GenerateRequestsPerDayPerProjectPerModel' }, 'past UTC midnight the day is not over');
  t.equal(refused.retryAfterMs, Date.parse('2026-03-02T08:00:00Z') - Date.parse('2026-03-02T00:30:00Z'), 'it says when the Pacific day ends');
  t.ok(quota.admit('m', 1, Date.parse('2026-03-02T08:00:00Z')).ok, 'a new Pacific day, a new quota');
  // Daylight time: the day ends at 07:00 UTC.
  const summer = new SimQuota({ rpm: 0, tpm: 0, rpd: 1, windowMs: 1000 });
  t.ok(summer.admit('m', 1, Date.parse('2026-07-01T06:30:00Z')).ok);
  t.equal(summer.admit('m', 1, Date.parse('2026-07-01T06:59:00Z')).retryAfterMs, 60_000);
  t.ok(summer.admit('m', 1, Date.parse('2026-07-01T07:00:00Z')).ok);
});
