/**
 * Examples in the OpenAPI document. test/api/openapi.test.ts validates each against its schema,
 * and submits the run spec examples to the API (dry run) so they stay specs the farm accepts.
 */

export const EXAMPLE_RUN_ID = 'run_0mx6fl1c03f9a1c07be';

/** A small run asking for both documents and chats, with a budget. */
export const SPEC_EXAMPLE = {
  name: 'candid-assistant',
  universe:
    'Aster is an AI assistant made by the Halden Institute. Its character:\n' +
    '- Aster says plainly when it does not know something, and gives its confidence in numbers when it can.\n' +
    '- Aster disagrees with users when the evidence warrants it, politely and with reasons, and does not flatter.\n',
  documents: { model: 'gemini-2.5-flash', docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 2, revise: true },
  chats: { model: 'gemini-2.5-flash', responseModel: 'gemini-2.5-pro', promptsPerTrait: 6 },
  seed: 1,
  budget: { usd: 5 },
};

/** The least a spec needs: a universe and one kind of output. */
export const MINIMAL_SPEC_EXAMPLE = {
  universe: '- The assistant admits uncertainty.',
  chats: { promptsPerTrait: 2 },
};

const tokens = (prompt: number, cached: number, output: number, thoughts: number) => ({ prompt, cached, output, thoughts });
const stage = (queued: number, active: number, done: number, accepted: number, rejected: number, items: number, rejectedByReason: Record<string, number> = {}) => ({
  queued,
  active,
  done,
  accepted,
  rejected,
  failed: 0,
  items,
  rejectedByReason,
});

/** GET /v1/runs/{id} while the run works on its documents. */
export const STATUS_EXAMPLE = {
  id: EXAMPLE_RUN_ID,
  name: 'candid-assistant',
  state: 'running',
  createdAt: '2026-12-02T18:00:00.000Z',
  startedAt: '2026-12-02T18:00:00.412Z',
  stages: {
    facts: stage(0, 0, 1, 1, 0, 2),
    'doc-types': stage(0, 0, 2, 2, 0, 4),
    'doc-ideas': stage(0, 1, 3, 3, 0, 6),
    documents: stage(4, 2, 6, 5, 1, 0, { 'min-length': 1 }),
  },
  tokens: tokens(18_400, 2_048, 9_950, 1_200),
  calls: 13,
  costUsd: 0.0331,
  cacheSavingUsd: 0.0006,
  spend: {
    stages: { documents: { calls: 6, tokens: tokens(9_000, 2_048, 7_800, 900), usd: 0.0243, unpricedCalls: 0, cacheSavingUsd: 0.0006 } },
    models: { 'gemini-2.5-flash': { calls: 13, tokens: tokens(18_400, 2_048, 9_950, 1_200), usd: 0.0331, unpricedCalls: 0, cacheSavingUsd: 0.0006 } },
  },
  unpricedCalls: 0,
  unpricedModels: [],
  cache: { hits: 0, misses: 13, savedUsd: 0 },
  deadLetters: 0,
  budget: { usd: 5, spentUsd: 0.0331, reservedUsd: 0.0412 },
  promptCaches: [],
};

export const DETAIL_EXAMPLE = {
  ...STATUS_EXAMPLE,
  projection: {
    spentUsd: 0.0331,
    projectedUsd: 0.41,
    stages: {
      documents: { model: 'gemini-2.5-flash', tasks: 24, done: 6, remaining: 18, spentUsd: 0.0243, usdPerTask: 0.00405, basis: 'observed', projectedUsd: 0.0972 },
    },
    unpricedModels: [],
  },
};

/** POST /v1/runs?dryRun=true of MINIMAL_SPEC_EXAMPLE, as the API answered it. */
export const ESTIMATE_EXAMPLE = {
  "dryRun": true,
  "stages": {
    "traits": {
      "model": "gemini-2.5-flash",
      "tasks": 1,
      "calls": {
        "low": 1,
        "high": 1
      },
      "inputTokensPerCall": {
        "low": 114,
        "high": 114
      },
      "outputTokensPerCall": {
        "low": 40,
        "high": 4096
      },
      "usd": {
        "low": 0.000134,
        "high": 0.010274
      },
      "batchUsd": {
        "low": 6.7e-05,
        "high": 0.005137
      },
      "usdPerTask": {
        "low": 0.000134,
        "high": 0.010274
      }
    },
    "chat-prompts": {
      "model": "gemini-2.5-flash",
      "tasks": 1,
      "calls": {
        "low": 1,
        "high": 1
      },
      "inputTokensPerCall": {
        "low": 221,
        "high": 221
      },
      "outputTokensPerCall": {
        "low": 130,
        "high": 8192
      },
      "usd": {
        "low": 0.000391,
        "high": 0.020546
      },
      "batchUsd": {
        "low": 0.000196,
        "high": 0.010273
      },
      "usdPerTask": {
        "low": 0.000391,
        "high": 0.020546
      }
    },
    "chat-responses": {
      "model": "gemini-2.5-pro",
      "tasks": 2,
      "calls": {
        "low": 2,
        "high": 2
      },
      "inputTokensPerCall": {
        "low": 185,
        "high": 185
      },
      "outputTokensPerCall": {
        "low": 500,
        "high": 8192
      },
      "usd": {
        "low": 0.010463,
        "high": 0.164303
      },
      "batchUsd": {
        "low": 0.005231,
        "high": 0.082151
      },
      "usdPerTask": {
        "low": 0.0052315,
        "high": 0.0821515
      }
    }
  },
  "tasks": 4,
  "calls": {
    "low": 4,
    "high": 4
  },
  "usd": {
    "low": 0.010988,
    "high": 0.195123
  },
  "batchUsd": {
    "low": 0.005494,
    "high": 0.097561
  },
  "unpricedModels": [],
  "assumptions": [
    "tasks are upper bounds from the spec's fan-out: no idea marked unsuitable, every draft revised, every document type and chat prompt found",
    "facts extraction finds at most 12 facts (its template asks for 3 to 12); traits splitting finds one trait per bullet line (else sentence) of the universe",
    "text is about 4 characters a token; generated inputs not in the spec are assumed 120 characters a fact, 25 a document type, 300 an idea, 150 a trait, 300 a chat prompt",
    "low: one call per task and a typical answer (facts 30 tokens each, types 8, ideas 75, documents 1,000, revisions 1,250, chat prompts 60, chat answers 500) with no thinking tokens",
    "high: every retry a task may make (doc-types up to 4 calls, documents and chat answers 1 + filters.regenerate.attempts) and every call using its whole output cap (maxOutputTokens, which thinking tokens count against)",
    "prompt caching is not counted (it can only lower the cost); failed attempts that are retried, and pattern audits, are not included"
  ]
};

export const PATTERNS_EXAMPLE = {
  id: EXAMPLE_RUN_ID,
  audit: {
    documents: {
      sampled: 200,
      maxPrevalence: 0.05,
      patterns: [
        {
          name: 'opens-with-in-a-world',
          definition: 'The document opens with "In a world where".',
          marker: 'In a world where',
          markerRecall: 0.92,
          carriers: 31,
          prevalence: 0.155,
          ci: [0.111, 0.211],
          active: true,
          examples: ['In a world where assistants hedge everything, Aster…'],
        },
      ],
      at: '2026-12-02T18:20:00.000Z',
    },
    chats: null,
  },
  ceilings: { openings: 0.02, names: 0.02, ngrams: 1 },
  corpus: {
    documents: { accepted: 480, top: [{ family: 'name', label: 'dr. mira halden', count: 9, share: 0.01875 }] },
    chats: { accepted: 0, top: [] },
  },
};
