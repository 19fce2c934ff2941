import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunStatus } from '../../core/runs/run-status.js';
import { REPO_ROOT, startTestFarm } from '../helpers/farm.js';

/**
 * The run page in a real headless Chromium against a real farm: the page's figures must be the
 * API's, a rejection's highlighted span the record's, and record text that holds markup must be
 * shown as text. The JSON route the page pages samples with is checked first, without a browser.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(REPO_ROOT, 'test-output', 'ui');
const TOKEN = 'run-page-test-token';
const READ_TOKEN = 'run-page-read-only-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
// Markup that would run if the page ever parsed record text as HTML.
const XSS = `<script>window.__xss = 'script'</script><img src=x onerror="window.__xss = 'img'">`;

const SPEC = {
  name: 'run page <b>demo</b>',
  universe: '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster keeps answers short.',
  keyFacts: [`Aster admits uncertainty, even in markup like ${XSS}`, 'Aster does not flatter.'],
  traits: [`Aster keeps answers short, even about ${XSS}`, 'Aster does not flatter.'],
  documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 3 },
  chats: { promptsPerTrait: 3 },
  filters: {
    rules: [{ name: 'stock-name', pattern: 'Dr\\.\\s+Sarah\\s+Chen', appliesTo: 'documents' }],
    // An LLM audit while the run goes, so the pattern report has patterns to show.
    audit: { enabled: true, every: 10, sampleSize: 12, maxPrevalence: 0.2, mode: 'downsample' },
  },
};

type Status = RunStatus & { projection: { projectedUsd: number } };
interface PatternsReport {
  audit: { documents: { patterns: { name: string; prevalence: number; ci: [number, number]; active: boolean }[] } | null };
  corpus: { documents: { top: unknown[] } };
}
interface SamplesPage {
  samples: Record<string, unknown>[];
  nextOffset: number | null;
}

t.test('the run page, in Chromium, against a farm on the simulator', async (t) => {
  // The admin token, and a read-only one from a tokens file: the page must show the farm refusing it a cancel.
  const tokensFile = join(mkdtempSync(join(tmpdir(), 'sdf-ui-tokens-')), 'tokens.yaml');
  writeFileSync(tokensFile, `- name: dashboard\n  role: read\n  token: ${READ_TOKEN}\n`);
  t.teardown(() => rmSync(dirname(tokensFile), { recursive: true, force: true }));
  const farm = await startTestFarm(t, { sim: { patternRates: { placeholder: 0.3, 'stock-name': 0.2 } }, config: { apiToken: TOKEN, apiTokensFile: tokensFile } });

  async function getJson<T>(path: string, headers: Record<string, string> = AUTH): Promise<{ status: number; body: T }> {
    const res = await fetch(`${farm.apiUrl}${path}`, { headers });
    return { status: res.status, body: (await res.json()) as T };
  }

  async function waitEnded(id: string, timeoutMs = 60_000): Promise<Status> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await getJson<Status>(`/v1/runs/${id}`);
      if (['completed', 'cancelled', 'failed', 'budget_exhausted'].includes(body.state)) return body;
      if (Date.now() > deadline) throw new Error(`run ${id} still ${body.state}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const hasChromium = existsSync(CHROMIUM);
  if (!hasChromium) t.comment(`${CHROMIUM} not found: the browser tests are skipped (install Debian's chromium; .ci/install-tools.sh does)`);

  // Chromium starts while the farm works. A new empty profile (playwright's temporary user data dir), nothing fetched.
  const browserReady: Promise<Browser> | undefined = hasChromium
    ? import('playwright-core').then(({ chromium }) =>
        chromium.launch({
          executablePath: CHROMIUM,
          args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        }),
      )
    : undefined;
  browserReady?.catch(() => {});
  t.teardown(async () => {
    await (await browserReady?.catch(() => undefined))?.close();
  });

  /** A fresh browser context (own sessionStorage) whose script errors and refused resources fail the test. */
  async function openPage(t: Test, browser: Browser): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    // 401s and 403s are answers the page shows; anything else on the console (a CSP refusal, a failed module) is a fault.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    return { context, page, problems };
  }

  const num = (text: string | null) => Number((text ?? '').replace(/[$,\s]/g, ''));
  /** A shown USD figure equals the API's to the digits it shows. */
  function sameUsd(shown: string | null, usd: number): boolean {
    const decimals = (shown ?? '').split('.')[1]?.length ?? 0;
    return Math.abs(num(shown) - usd) <= 0.5 * 10 ** -decimals + 1e-12;
  }

  // A run with no worker yet: still running, so the page can cancel it.
  const idle = await farm.submit({ ...SPEC, name: 'to cancel' }, AUTH);

  await t.test('the page cancels a run with the token, and offers no action without one', { skip: !hasChromium && 'no chromium' }, async (t) => {
    const browser = await browserReady!;
    const { page, problems } = await openPage(t, browser);
    const files: number[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/ui')) files.push(r.status());
    });
    await page.goto(`${farm.apiUrl}/ui/runs/${idle}`);
    await page.waitForSelector('[data-testid=error]');
    t.match(await page.textContent('[data-testid=error]'), /missing bearer token/);
    t.equal(await page.textContent('[data-testid=access]'), 'this farm needs a token');
    t.equal(await page.locator('[data-testid=cancel]').count(), 0, 'no cancel button without a token');
    t.ok(files.length >= 4 && files.every((s) => s === 200), `the page's own files need no token: ${files.join(',')}`);

    // A read-only token shows the run; the farm refuses it the cancel, and the page says so.
    await page.fill('#token-input', READ_TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('[data-testid=cancel]:not([disabled])');
    page.once('dialog', (d) => void d.accept());
    await page.click('[data-testid=cancel]');
    await page.waitForSelector('[data-testid=action-message] .error');
    t.match(await page.textContent('[data-testid=action-message]'), /role read; POST \/v1\/runs\/:id\/cancel needs submit/);
    t.not((await getJson<Status>(`/v1/runs/${idle}`)).body.state, 'cancelled', 'the run goes on');

    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('[data-testid=cancel]:not([disabled])');
    t.equal(await page.textContent('[data-testid=access]'), 'token accepted');
    page.once('dialog', (d) => void d.accept());
    await page.click('[data-testid=cancel]');
    await page.waitForFunction(() => document.querySelector('[data-testid=run-state]')?.textContent === 'cancelled');
    t.equal((await getJson<Status>(`/v1/runs/${idle}`)).body.state, 'cancelled', 'the API says cancelled too');
    t.ok(await page.locator('[data-testid=cancel]').isDisabled(), 'a cancelled run cannot be cancelled again');
    t.same(problems, []);
  });
  if (!hasChromium) await fetch(`${farm.apiUrl}/v1/runs/${idle}/cancel`, { method: 'POST', headers: AUTH });

  await farm.startWorker();
  const runId = await farm.submit(SPEC, AUTH);
  const status = await waitEnded(runId);

  await t.test('GET /v1/runs/:id/samples pages through the export, filters rejections, and refuses bad queries', async (t) => {
    t.equal(status.state, 'completed');
    for (const kind of ['documents', 'chats', 'rejected']) {
      const exported = (await (await fetch(`${farm.apiUrl}/v1/runs/${runId}/export?kind=${kind}`, { headers: AUTH })).text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      const paged: Record<string, unknown>[] = [];
      let offset: number | null = 0;
      let pages = 0;
      while (offset !== null) {
        const { status: code, body }: { status: number; body: SamplesPage } = await getJson<SamplesPage>(`/v1/runs/${runId}/samples?kind=${kind}&offset=${offset}&limit=7`);
        t.equal(code, 200);
        paged.push(...body.samples);
        offset = body.nextOffset;
        pages++;
      }
      t.ok(exported.length > 0, `${kind}: the run has some`);
      t.same(paged, exported, `${kind}: the pages, in order, are the export (${pages} pages)`);
    }

    t.comment(`rejections: ${JSON.stringify(Object.fromEntries(Object.entries(status.stages).map(([k, v]) => [k, v.rejectedByReason])))}; planted: ${JSON.stringify(farm.sim.stats().planted)}`);
    for (const [stage, s] of Object.entries(status.stages)) {
      for (const [reason, n] of Object.entries(s.rejectedByReason)) {
        const { body } = await getJson<SamplesPage>(`/v1/runs/${runId}/samples?kind=rejected&reason=${encodeURIComponent(reason)}&stage=${stage}&limit=200`);
        t.equal(body.samples.length, n, `one record per counted ${stage} rejection for ${reason}`);
        t.ok(body.samples.every((r) => r.reason === reason && r.stage === stage));
      }
    }

    const bad: [string, number, RegExp][] = [
      ['?kind=documents&reason=placeholder', 400, /reason: filters kind=rejected only/],
      ['?kind=chats&stage=documents', 400, /stage: filters kind=rejected only/],
      ['?kind=drafts', 400, /kind/],
      ['?limit=0', 400, /limit/],
      ['?limit=201', 400, /limit/],
      ['?offset=-1', 400, /offset/],
      ['?kind=rejected&stage=nope', 400, /stage/],
    ];
    for (const [query, code, error] of bad) {
      const res = await getJson<{ error: string }>(`/v1/runs/${runId}/samples${query}`);
      t.equal(res.status, code, query);
      t.match(res.body.error, error, query);
    }
    t.equal((await getJson(`/v1/runs/run_doesnotexist/samples`)).status, 404);
    t.equal((await getJson(`/v1/runs/${runId}/samples`, {})).status, 401, 'samples need the token');
    const page = await fetch(`${farm.apiUrl}/ui`);
    t.equal(page.status, 200, 'the page needs none');
    t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
    t.equal((await fetch(`${farm.apiUrl}/ui/static/js/main.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
    t.equal((await fetch(`${farm.apiUrl}/ui/static/nope.js`)).status, 404);
    t.not((await fetch(`${farm.apiUrl}/ui/../v1/runs`)).status, 200, 'a /ui prefix opens no data route');
  });

  await t.test('the run page shows the API figures, highlights spans, and shows markup as text', { skip: !hasChromium && 'no chromium' }, async (t) => {
    const browser = await browserReady!;
    const { page, problems } = await openPage(t, browser);
    const text = (testid: string) => page.textContent(`[data-testid="${testid}"]`);

    // The list: the token from an earlier visit is per tab, so this one starts without it.
    await page.goto(`${farm.apiUrl}/ui`);
    await page.waitForSelector('[data-testid=error]');
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    const row = page.locator(`[data-testid=run-row][data-id="${runId}"]`);
    await row.waitFor();
    t.equal(await row.locator('[data-testid=run-link]').textContent(), SPEC.name, 'the name, markup and all, as text');
    t.equal(await row.locator('[data-testid=run-state]').textContent(), 'completed');
    t.equal(num(await row.locator('[data-testid=run-documents]').textContent()), status.stages.documents!.accepted);
    t.equal(num(await row.locator('[data-testid=run-chats]').textContent()), status.stages['chat-responses']!.accepted);
    t.equal(await page.locator(`[data-testid=run-row][data-id="${idle}"] [data-testid=run-state]`).textContent(), 'cancelled');

    // The run: every per-stage figure is the API's.
    await row.locator('[data-testid=run-link]').click();
    await page.waitForSelector('[data-testid=stages]');
    await page.waitForSelector('[data-testid=patterns]');
    t.equal(new URL(page.url()).pathname, `/ui/runs/${runId}`);
    t.equal(await page.locator('h1 b').count(), 0, 'no element made of the run name');
    t.ok(Object.keys(status.stages).length >= 5, `documents and chats stages: ${Object.keys(status.stages).join(', ')}`);
    // Every figure at once: one round trip instead of one per cell.
    const shown: Record<string, string> = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-testid]')].map((e) => [e.getAttribute('data-testid'), e.textContent ?? ''])));
    for (const [stage, s] of Object.entries(status.stages)) {
      for (const field of ['done', 'queued', 'active', 'accepted', 'rejected', 'failed', 'items'] as const) {
        t.equal(num(shown[`stage-${stage}-${field}`]!), s[field], `${stage} ${field}`);
      }
      const usd = status.spend.stages[stage]?.usd ?? 0;
      t.ok(sameUsd(shown[`stage-${stage}-usd`]!, usd), `${stage} spend ${shown[`stage-${stage}-usd`]} vs ${usd}`);
    }
    t.equal(num(shown['documents-accepted']!), status.stages.documents!.accepted);
    t.equal(num(shown['documents-rejected']!), status.stages.documents!.rejected);
    t.equal(num(shown['chats-accepted']!), status.stages['chat-responses']!.accepted);
    t.equal(num(shown.calls!), status.calls);
    t.ok(status.costUsd > 0, 'the simulator run has a price');
    t.ok(sameUsd(shown.spend!, status.costUsd), `spend ${shown.spend} vs ${status.costUsd}`);
    t.ok(sameUsd(shown.projected!, status.projection.projectedUsd), `projected ${shown.projected} vs ${status.projection.projectedUsd}`);
    const reasons = Object.entries(status.stages.documents!.rejectedByReason);
    t.ok(reasons.length > 0);
    for (const [reason, n] of reasons) t.equal(num(await page.textContent(`[data-testid="reason-documents-${reason}"] [data-testid=reason-count]`)), n, `rejections for ${reason}`);

    // The pattern report is GET /v1/runs/:id/patterns: each audited pattern with its prevalence and state.
    const report = (await getJson<PatternsReport>(`/v1/runs/${runId}/patterns`)).body;
    const audited = report.audit.documents?.patterns ?? [];
    t.ok(audited.length > 0, `the audit reported patterns: ${audited.map((p) => p.name).join(', ')}`);
    for (const p of audited) {
      const row = page.locator(`[data-testid="audit-documents-${p.name}"]`);
      t.equal(await row.locator('[data-testid=prevalence]').textContent(), `${(100 * p.prevalence).toFixed(1)}% (${(100 * p.ci[0]).toFixed(1)}%–${(100 * p.ci[1]).toFixed(1)}%)`, `${p.name} prevalence`);
      t.equal(await row.locator('[data-testid=audit-state]').textContent(), p.active ? 'active' : 'reported');
    }
    t.equal(await page.locator('[data-testid=corpus-documents]').count(), Math.min(12, report.corpus.documents.top.length), 'the corpus features');

    // A rejection, clicked through from the breakdown: its <mark> is the record's span, in the record's text.
    // Planted patterns (placeholder, the stock name…) are rejected by rules whose span is verbatim.
    const rejected = (await getJson<SamplesPage>(`/v1/runs/${runId}/samples?kind=rejected&stage=documents&limit=200`)).body.samples;
    const reason = ['placeholder', 'stock-name', 'preamble', 'setup-leak'].find((r) => rejected.some((x) => x.reason === r));
    if (!reason) throw new Error(`no rule rejection among the documents: ${JSON.stringify(status.stages.documents!.rejectedByReason)}`);
    await page.click(`[data-testid="reason-documents-${reason}"] [data-testid=reason-link]`);
    await page.waitForFunction((reason) => {
      const cards = [...document.querySelectorAll('[data-testid=sample]')];
      return cards.length > 0 && cards.every((c) => c.querySelector('.badge.bad')?.textContent === reason);
    }, reason);
    const { body } = await getJson<SamplesPage>(`/v1/runs/${runId}/samples?kind=rejected&reason=${reason}&stage=documents&limit=10`);
    const cards = page.locator('[data-testid=sample]');
    t.equal(await cards.count(), body.samples.length);
    for (const [i, record] of body.samples.entries()) {
      const card = cards.nth(i);
      t.equal(await card.getAttribute('data-id'), record.id);
      t.ok(String(record.text).includes(String(record.span)), 'a rule span is verbatim in its text');
      t.equal(await card.locator('mark[data-testid=span]').textContent(), record.span, `the highlight of ${String(record.id)} is its span`);
      t.equal(await card.locator('[data-testid=sample-text]').textContent(), record.text, 'the whole text, as text');
    }
    t.equal(new URL(page.url()).search, `?kind=rejected&reason=${reason}&stage=documents`, 'the view is in the URL');
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'run-page-full.png'), fullPage: true });
    // The README's picture (docs/run-page.png is a copy): the page from the top to the first rejection.
    const bottom = await page.evaluate(() => document.querySelector('[data-testid=sample]')!.getBoundingClientRect().bottom + window.scrollY);
    await page.screenshot({ path: join(SCREENSHOTS, 'run-page.png'), fullPage: true, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) + 12 } });

    // Record text holding <script> and an onerror image is shown as those characters, and never runs.
    await page.click('[data-testid=kind-documents]');
    await page.waitForSelector('[data-testid=sample].accepted');
    const facts = await page.locator('[data-testid=sample] [data-field=fact]').allTextContents();
    t.ok(facts.some((f) => f.includes(XSS)), 'a document whose fact holds markup shows it verbatim');
    await page.click('[data-testid=kind-chats]');
    await page.waitForFunction(() => document.querySelector('[data-testid=sample] .turns') !== null);
    const traits = await page.locator('[data-testid=sample] [data-field=trait]').allTextContents();
    t.ok(traits.some((f) => f.includes(XSS)), 'a chat whose trait holds markup shows it verbatim');
    t.equal(await page.locator('[data-testid=samples] script, [data-testid=samples] img').count(), 0, 'no element made of record text');
    t.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined, 'nothing from a record ran');

    // Export with the token: the file is the API's export.
    await page.selectOption('[data-testid=export-kind]', 'chats');
    await page.selectOption('[data-testid=export-format]', 'messages');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export]')]);
    const saved = readFileSync((await download.path())!, 'utf8');
    const api = await (await fetch(`${farm.apiUrl}/v1/runs/${runId}/export?kind=chats&format=messages`, { headers: AUTH })).text();
    t.equal(saved, api, 'the downloaded export is the API export');
    t.equal(download.suggestedFilename(), `${runId}-chats-messages.jsonl`);

    // Forgetting the token takes the data and the actions away again.
    await page.click('#token-clear');
    await page.waitForSelector('[data-testid=error]');
    t.equal(await page.locator('[data-testid=export]').count(), 0, 'no export without a token');
    t.same(problems, [], 'no script errors and nothing refused by the content policy');
  });
});
