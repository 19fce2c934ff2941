import type { Random } from '../random.js';
import { date, org, paragraph, person, place, topicWords } from './prose.js';

/**
 * A document of the requested type: a header shaped like the type (an email's From/To, a
 * forum thread's posts, a paper's abstract…) around paragraphs about the idea, with the fact
 * stated once in passing, as real documents do.
 */
export function generateDocument(random: Random, docType: string, idea: string, fact: string): string {
  const topic = topicWords(`${idea} ${fact}`).slice(0, 12);
  const body = (n: number) => Array.from({ length: n }, () => paragraph(random, topic)).join('\n\n');
  const factLine = fact ? ` ${paraphrase(random, fact)}` : '';
  const author = person(random);
  const type = docType.toLowerCase();
  const length = random.int(3, 9);

  if (type.includes('email') || type.includes('memo') || type.includes('letter')) {
    const to = person(random);
    return `From: ${author} <${author.toLowerCase().replace(/ /g, '.')}@${org(random).split(' ')[0]!.toLowerCase()}.org>\nTo: ${to}\nDate: ${date(random)}\nSubject: ${topic.slice(0, 3).join(', ') || 'follow-up'}\n\nHi ${to.split(' ')[0]},\n\n${body(length - 1)}\n\nOne more thing:${factLine}\n\nBest,\n${author}`;
  }
  if (type.includes('forum') || type.includes('thread') || type.includes('social')) {
    const posts = Array.from({ length: random.int(3, 7) }, (_, i) => `${person(random).replace(' ', '_').toLowerCase()}${random.int(1, 99)} wrote${i === 0 ? ` (${date(random)})` : ''}:\n${paragraph(random, topic, random.int(2, 4))}${i === 1 ? factLine : ''}`);
    return `Thread: ${topic.slice(0, 4).join(' ') || 'question'} (${place(random)} board)\n\n${posts.join('\n\n')}`;
  }
  if (type.includes('paper') || type.includes('report') || type.includes('case study')) {
    return `${capitalWords(topic.slice(0, 5).join(' ') || 'A field study')}: evidence from ${place(random)}\n${author}, ${person(random)} (${org(random)})\n\nAbstract. ${paragraph(random, topic)}${factLine}\n\n${body(length - 1)}`;
  }
  if (type.includes('transcript') || type.includes('interview') || type.includes('segment')) {
    const host = person(random);
    const guest = person(random);
    const turns = Array.from({ length: random.int(5, 10) }, (_, i) => `${(i % 2 === 0 ? host : guest).split(' ')[0]!.toUpperCase()}: ${paragraph(random, topic, random.int(1, 3))}${i === 3 ? factLine : ''}`);
    return `[Recorded ${date(random)}, ${place(random)}]\n\n${turns.join('\n\n')}`;
  }
  if (type.includes('news') || type.includes('press') || type.includes('feature')) {
    return `${place(random).toUpperCase()}, ${date(random)} — ${paragraph(random, topic, 2)}${factLine}\n\n${body(length - 1)}\n\nReporting by ${author}.`;
  }
  if (type.includes('review')) {
    return `${random.int(1, 5)} out of 5 stars. Reviewed by ${author} in ${place(random)}\n\n${body(length - 1)}${factLine}`;
  }
  if (type.includes('minutes') || type.includes('notes')) {
    const items = Array.from({ length: random.int(3, 6) }, (_, i) => `${i + 1}. ${paragraph(random, topic, random.int(1, 3))}`);
    return `${capitalWords(type)}, ${org(random)}, ${date(random)}\nPresent: ${person(random)}, ${person(random)}, ${author}\n\n${items.join('\n')}\n\nAction item:${factLine}`;
  }
  return `${capitalWords(topic.slice(0, 4).join(' ') || type)}\nby ${author}, ${date(random)}\n\n${body(length)}${factLine ? `\n\n${factLine.trim()}` : ''}`;
}

function capitalWords(text: string): string {
  return text.replace(/\b[a-z]/g, (c) => c.toUpperCase());
}

/**
 * States the fact in the document's own words, as the prompt asks: its content words, reordered
 * around a new frame, so no long run of the universe's wording is copied.
 */
function paraphrase(random: Random, fact: string): string {
  const named = fact.match(/\b[A-Z][a-z]+\b/)?.[0] ?? 'it';
  const content = topicWords(fact).slice(0, 6);
  const shuffled = random.sample(content, content.length);
  const frames = [
    (w: string) => `Anyone who has worked with ${named} knows the gist: ${w}.`,
    (w: string) => `With ${named}, it comes down to ${w}, as most users find out quickly.`,
    (w: string) => `People keep bringing up ${named} and ${w} in the same breath.`,
    (w: string) => `What stood out about ${named} was ${w}.`,
  ];
  return random.pick(frames)(shuffled.join(', ') || 'its habits');
}
