import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Stage } from '../stages.js';

export interface StagePrompt {
  user: string;
  system?: string;
  /** JSON schema of a structured stage's answer. */
  schema?: Record<string, unknown>;
}

/** The package's own `prompts/` folder, found from this file whether run from source or dist. */
export function builtinPromptsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'prompts', 'facts', 'user.md'))) return join(dir, 'prompts');
    dir = dirname(dir);
  }
  throw new Error('prompt templates not found: expected a prompts/ folder beside the package');
}

/**
 * Prompt templates per stage: an override folder (`PROMPTS_DIR`) first, the built-ins after.
 * Read once per stage and kept.
 */
export class PromptLibrary {
  readonly #dirs: string[];
  readonly #cache = new Map<string, StagePrompt>();

  constructor(overrideDir?: string) {
    this.#dirs = overrideDir ? [overrideDir, builtinPromptsDir()] : [builtinPromptsDir()];
  }

  get(stage: Stage | string): StagePrompt {
    let prompt = this.#cache.get(stage);
    if (!prompt) {
      const user = this.#read(stage, 'user.md');
      if (user === undefined) throw new Error(`no prompt template for stage "${stage}" (user.md)`);
      const system = this.#read(stage, 'system.md');
      const schema = this.#read(stage, 'schema.json');
      prompt = {
        user,
        ...(system !== undefined ? { system } : {}),
        ...(schema !== undefined ? { schema: JSON.parse(schema) as Record<string, unknown> } : {}),
      };
      this.#cache.set(stage, prompt);
    }
    return prompt;
  }

  #read(stage: string, file: string): string | undefined {
    for (const dir of this.#dirs) {
      const path = join(dir, stage, file);
      if (existsSync(path)) return readFileSync(path, 'utf8');
    }
    return undefined;
  }
}
