import { generateChatResponse } from './generators/chat.js';
import { generateUserTurn } from './generators/chat-user.js';
import { generateDocument } from './generators/document.js';
import * as structured from './generators/structured.js';
import * as evals from './generators/eval.js';
import type { SimStage } from './detect-stage.js';
import type { SimOptions } from './options.js';
import { plantPatterns } from './patterns.js';
import type { Random } from './random.js';

/** What the simulator remembers across requests for evals: chat prompts it wrote (which a probe may repeat) and facts it was told about (which a trait model believes). */
export interface SimMemory {
  chatPrompts: string[];
  facts: string[];
}

export interface SimAnswer {
  text: string;
  planted: string[];
}

/** The answer's text for a stage; structured stages answer JSON matching their schema. */
export function respond(stage: SimStage, system: string, user: string, random: Random, options: SimOptions, recentDocs: string[], model = '', memory: SimMemory = { chatPrompts: [], facts: [] }): SimAnswer {
  const json = (value: unknown): SimAnswer => ({ text: JSON.stringify(value), planted: [] });
  switch (stage) {
    case 'facts':
      return json(structured.facts(user));
    case 'traits':
      return json(structured.traits(user));
    case 'doc-types':
      return json(structured.docTypes(user, random));
    case 'doc-ideas':
      return json(structured.ideas(user, random, options.unsuitableRate));
    case 'revise':
      return json(structured.revise(user, random));
    case 'chat-prompts': {
      const answer = structured.chatPrompts(user, random);
      remember(memory.chatPrompts, answer.prompts.map((p) => p.prompt), 2000);
      return json(answer);
    }
    case 'eval-probes':
      return json(evals.evalProbes(user, random, memory.chatPrompts, options.probeReuseRate));
    case 'eval-belief-probes':
      remember(memory.facts, [structured.tagged(user, 'fact')], 200);
      return json(evals.beliefProbes(user, random));
    case 'eval-challenger':
      return json(evals.challengerArgument(user));
    case 'eval-judge':
      return json(evals.judgeScore(user, random));
    case 'eval-belief-judge':
      return json(evals.judgeLabel(user));
    case 'audit-scan':
      return json(structured.auditProposals(user, random));
    case 'audit-cluster':
      return json(structured.auditCatalog(user));
    case 'audit-rate':
      return json(structured.auditLabels(user));
    case 'documents': {
      if (recentDocs.length > 0 && random.chance(options.duplicateRate)) {
        const original = random.pick(recentDocs);
        return { text: original.replace(/\.\s*$/, '. (Updated.)'), planted: ['duplicate'] };
      }
      const doc = generateDocument(random, structured.tagged(user, 'document_type'), structured.tagged(user, 'idea'), structured.tagged(user, 'fact'));
      const { text, planted } = plantPatterns(doc, 'document', options.patternRates, random);
      recentDocs.push(text);
      if (recentDocs.length > 200) recentDocs.shift();
      return { text, planted };
    }
    case 'chat-responses': {
      const answer = generateChatResponse(random, user, structured.tagged(system, 'trait'));
      return plantPatterns(answer, 'chat', options.patternRates, random);
    }
    case 'chat-user':
      return { text: generateUserTurn(random, user, structured.tagged(user, 'conversation'), structured.tagged(user, 'move')), planted: [] };
    case 'text':
      return { text: evals.targetAnswer(user, random, options.traitModels.includes(model), memory.facts), planted: [] };
  }
}

function remember(list: string[], items: string[], max: number): void {
  for (const item of items) if (item && !list.includes(item)) list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
