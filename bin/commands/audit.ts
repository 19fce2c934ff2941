import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { examples } from '../help-examples.js';
import { auditItems, formatAuditReport, readAuditItems } from '../../core/audit/offline-audit.js';
import { runPatternAudit } from '../../core/audit/llm-audit.js';
import { loadConfig } from '../../core/config.js';
import { resolveFilterSpec } from '../../core/filters/filter-spec.js';
import { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { geminiFromConfig } from '../gemini-from-config.js';

interface AuditOptions {
  field: 'text' | 'messages';
  json?: boolean;
  universe?: string;
  llm?: boolean;
  model: string;
  sample: string;
}

export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('find superficial patterns in a dataset: per-item rules, corpus-wide openings/people/n-grams, named chat patterns, near-duplicates')
    .argument('<file>', 'JSONL dataset ({"text"} records, or chats with --field messages)')
    .option('--field <field>', 'text (documents) or messages (chats: the assistant turns)', 'text')
    .option('--json', 'print the report as JSON')
    .option('--universe <file>', 'the universe context, to flag wording copied from it')
    .option('--llm', 'also run the LLM scan/cluster/autorate passes (needs GEMINI_API_KEY or GEMINI_BASE_URL)')
    .option('--model <model>', 'model for the LLM passes', 'gemini-2.5-flash')
    .option('--sample <n>', 'items the LLM passes read', '60')
    .addHelpText('after', examples('sdf-farm audit out/example/documents.jsonl', 'sdf-farm audit chats.jsonl --field messages --json'))
    .action(async (file: string, options: AuditOptions) => {
      if (options.field !== 'text' && options.field !== 'messages') throw new Error(`--field: must be text or messages, got ${options.field}`);
      const items = await readAuditItems(file, options.field);
      const spec = resolveFilterSpec();
      const report = {
        file,
        ...auditItems(items, spec, { kind: options.field === 'messages' ? 'chat' : 'document', ...(options.universe ? { universe: readFileSync(options.universe, 'utf8') } : {}) }),
      };
      let llm;
      if (options.llm) {
        const gemini = geminiFromConfig(loadConfig());
        if (!gemini) throw new Error('--llm needs GEMINI_API_KEY (real Gemini) or GEMINI_BASE_URL (a simulator)');
        const n = Math.min(items.length, Number(options.sample));
        const samples = [...items].sort(() => Math.random() - 0.5).slice(0, n);
        llm = await runPatternAudit({
          samples,
          prompts: new PromptLibrary(),
          maxPrevalence: spec.audit.maxPrevalence,
          generate: async (_stage, prompt, schema) => {
            const response = await gemini.models.generateContent({ model: options.model, contents: prompt, config: { responseMimeType: 'application/json', responseJsonSchema: schema, temperature: 0.2 } });
            return JSON.parse(response.text ?? '{}') as unknown;
          },
        });
      }
      if (options.json) {
        process.stdout.write(JSON.stringify({ ...report, ...(llm ? { llm } : {}) }, null, 2) + '\n');
        return;
      }
      process.stdout.write(formatAuditReport(report) + '\n');
      if (llm) {
        process.stdout.write(`\nLLM audit of ${llm.sampled} sampled items (active above ${(llm.maxPrevalence * 100).toFixed(0)}%):\n`);
        for (const p of llm.patterns) {
          process.stdout.write(`${(p.prevalence * 100).toFixed(1).padStart(5)}%  [${(p.ci[0] * 100).toFixed(0)}–${(p.ci[1] * 100).toFixed(0)}%]  ${p.active ? 'ACTIVE ' : '       '}${p.name}: ${p.definition}\n`);
        }
      }
    });
}
