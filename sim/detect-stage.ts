/** Which farm stage a request belongs to, read the way a model would: from the schema and the prompt's tags. */
export type SimStage = 'facts' | 'doc-types' | 'doc-ideas' | 'revise' | 'traits' | 'chat-prompts' | 'audit-scan' | 'audit-cluster' | 'audit-rate' | 'documents' | 'chat-responses' | 'chat-user' | 'text'
  | 'eval-probes' | 'eval-belief-probes' | 'eval-judge' | 'eval-belief-judge' | 'eval-challenger';

const BY_SCHEMA_KEY: Record<string, SimStage> = {
  facts: 'facts',
  docTypes: 'doc-types',
  ideas: 'doc-ideas',
  critique: 'revise',
  traits: 'traits',
  prompts: 'chat-prompts',
  proposals: 'audit-scan',
  catalog: 'audit-cluster',
  labels: 'audit-rate',
  probes: 'eval-probes',
  questions: 'eval-belief-probes',
  score: 'eval-judge',
  label: 'eval-belief-judge',
  argument: 'eval-challenger',
};

export function detectStage(schema: unknown, system: string, user: string): SimStage {
  const properties = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  if (properties) {
    for (const key of Object.keys(properties)) if (BY_SCHEMA_KEY[key]) return BY_SCHEMA_KEY[key];
  }
  // The user simulator reads the conversation so far and the move to make.
  if (user.includes('<conversation>') && user.includes('<move>')) return 'chat-user';
  if (system.includes('<trait>')) return 'chat-responses';
  if (user.includes('<document_type>')) return 'documents';
  return 'text';
}
