import { Type, type Static } from '@sinclair/typebox';
import { compileUserPattern, PatternError } from './user-pattern.js';

/** The run spec's `filters` section; every field optional, defaults in resolveFilterSpec. */
export const FilterRuleSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: '^[a-z0-9][a-z0-9-]*$', description: 'Becomes the rejection reason.' }),
    pattern: Type.String({ minLength: 1, description: 'A JavaScript regular expression, read in Unicode mode and run on RE2 (no backreferences or lookaround).' }),
    flags: Type.Optional(Type.String({ pattern: '^[imsu]*$' })),
    appliesTo: Type.Optional(Type.Union([Type.Literal('documents'), Type.Literal('chats'), Type.Literal('both')])),
  },
  { additionalProperties: false },
);

const Share = Type.Number({ exclusiveMinimum: 0, maximum: 1 });

export const FilterSpecSchema = Type.Object(
  {
    rules: Type.Optional(Type.Array(FilterRuleSchema)),
    /** Turn built-in rules off by name: `{ "ai-disclaimer": false }`. */
    builtins: Type.Optional(Type.Record(Type.String(), Type.Boolean())),
    length: Type.Optional(
      Type.Object(
        {
          documents: Type.Optional(Type.Object({ minWords: Type.Optional(Type.Integer({ minimum: 0 })), maxWords: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false })),
          chats: Type.Optional(Type.Object({ minWords: Type.Optional(Type.Integer({ minimum: 0 })), maxWords: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
    ),
    corpus: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          maxShare: Type.Optional(
            Type.Object(
              {
                openings: Type.Optional(Share),
                names: Type.Optional(Share),
                ngrams: Type.Optional(Share),
                /** Chats: answer-first verdict openings ("Bottom line:", "Short answer:"), see chat-patterns.ts. */
                bottomLineOpenings: Type.Optional(Share),
                /** Chats: emotional-validation preambles ("That's a great question"). */
                validationPreambles: Type.Optional(Share),
              },
              { additionalProperties: false },
            ),
          ),
          warmup: Type.Optional(Type.Integer({ minimum: 1 })),
          openingWords: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
        },
        { additionalProperties: false },
      ),
    ),
    dedup: Type.Optional(Type.Object({ enabled: Type.Optional(Type.Boolean()), threshold: Type.Optional(Share) }, { additionalProperties: false })),
    audit: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          maxPrevalence: Type.Optional(Share),
          mode: Type.Optional(Type.Union([Type.Literal('filter'), Type.Literal('downsample')])),
          sampleSize: Type.Optional(Type.Integer({ minimum: 5, maximum: 500 })),
          every: Type.Optional(Type.Integer({ minimum: 10 })),
          model: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    regenerate: Type.Optional(Type.Object({ attempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 5 })) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export type FilterSpec = Static<typeof FilterSpecSchema>;
export type FilterRule = Static<typeof FilterRuleSchema>;

export interface ResolvedFilterSpec {
  rules: FilterRule[];
  builtins: Record<string, boolean>;
  length: { documents: { minWords: number; maxWords: number }; chats: { minWords: number; maxWords: number } };
  corpus: { enabled: boolean; maxShare: { openings: number; names: number; ngrams: number; bottomLineOpenings: number; validationPreambles: number }; warmup: number; openingWords: number };
  dedup: { enabled: boolean; threshold: number };
  audit: { enabled: boolean; maxPrevalence: number; mode: 'filter' | 'downsample'; sampleSize: number; every: number; model?: string };
  regenerate: { attempts: number };
}

/**
 * Defaults: openings and names capped at 2% of the accepted set (an absolute count of
 * 2% × warmup until the set is larger than the warm-up), word n-grams reported but not capped
 * (1.0: ordinary phrases legitimately recur), the named chat patterns (chat-patterns.ts) at 5%
 * each (a direct verdict first is often right; a habit of it is not), near-duplicates above 0.8
 * Jaccard rejected.
 */
export function resolveFilterSpec(spec: FilterSpec = {}): ResolvedFilterSpec {
  return {
    rules: spec.rules ?? [],
    builtins: spec.builtins ?? {},
    length: {
      documents: { minWords: 80, maxWords: 6000, ...spec.length?.documents },
      chats: { minWords: 2, maxWords: 3000, ...spec.length?.chats },
    },
    corpus: {
      enabled: spec.corpus?.enabled ?? true,
      maxShare: { openings: 0.02, names: 0.02, ngrams: 1, bottomLineOpenings: 0.05, validationPreambles: 0.05, ...spec.corpus?.maxShare },
      warmup: spec.corpus?.warmup ?? 100,
      openingWords: spec.corpus?.openingWords ?? 5,
    },
    dedup: { enabled: spec.dedup?.enabled ?? true, threshold: spec.dedup?.threshold ?? 0.8 },
    audit: {
      enabled: spec.audit?.enabled ?? false,
      maxPrevalence: spec.audit?.maxPrevalence ?? 0.2,
      mode: spec.audit?.mode ?? 'filter',
      sampleSize: spec.audit?.sampleSize ?? 60,
      every: spec.audit?.every ?? 200,
      ...(spec.audit?.model ? { model: spec.audit.model } : {}),
    },
    regenerate: { attempts: spec.regenerate?.attempts ?? 0 },
  };
}

/**
 * The most RE2 instructions a spec's own patterns may compile to, all rules together. RE2's
 * matching is linear but its worst case per item is about 50 ns × instructions × characters
 * (measured with `(?:.*e){300}`); at this cap that is half a second for a 10,000-character
 * document, where an ordinary list of words costs a fraction of a millisecond. A list of about
 * 100 distinct words compiles to about 900 instructions.
 */
export const MAX_RULE_INSTRUCTIONS = 1000;

/**
 * Problems the schema cannot see: user rules whose pattern does not compile, needs a backtracking
 * engine (see user-pattern.ts), or makes the rules together too large to bound their cost.
 */
export function filterSpecProblems(spec: FilterSpec | undefined): string[] {
  const problems: string[] = [];
  let instructions = 0;
  for (const [i, rule] of (spec?.rules ?? []).entries()) {
    try {
      const before = instructions;
      instructions += compileUserPattern(rule.pattern, rule.flags).instructions;
      if (instructions > MAX_RULE_INSTRUCTIONS && before <= MAX_RULE_INSTRUCTIONS) {
        problems.push(
          `filters.rules[${i}].pattern: the rules' patterns compile to ${instructions} RE2 instructions up to this one, more than the ${MAX_RULE_INSTRUCTIONS} a spec may use (matching costs up to instructions × characters per item)`,
        );
      }
    } catch (err) {
      if (!(err instanceof PatternError)) throw err;
      problems.push(`filters.rules[${i}].pattern: ${err.message}`);
    }
  }
  return problems;
}
