import type { Random } from '../random.js';
import { ADJECTIVES, CONNECTIVES, FIRST_NAMES, MONTHS, OBJECTS, ORG_KINDS, ORG_WORDS, PLACES, SURNAMES, VERBS } from '../vocabulary.js';

/** Building blocks of generated prose: people, places, dates, and sentences that vary. */
export function person(random: Random): string {
  return `${random.pick(FIRST_NAMES)} ${random.pick(SURNAMES)}`;
}

export function org(random: Random): string {
  return `${random.pick(ORG_WORDS)} ${random.pick(ORG_WORDS)} ${random.pick(ORG_KINDS)}`;
}

export function date(random: Random): string {
  return `${random.pick(MONTHS)} ${random.int(1, 28)}, ${random.int(2019, 2031)}`;
}

export function place(random: Random): string {
  return random.pick(PLACES);
}

/** Content words of a text (lower-case, 4+ letters), to echo a topic. */
export function topicWords(text: string): string[] {
  // Capitalised words are names and places; a topic is made of the ordinary words.
  const words = text.match(/\b[a-z][a-z'-]{3,}/g) ?? [];
  const stop = new Set(['that', 'this', 'with', 'from', 'they', 'their', 'when', 'what', 'have', 'will', 'would', 'about', 'which', 'there', 'where', 'does', 'into', 'than', 'then', 'them', 'were', 'been', 'being', 'says', 'said']);
  return [...new Set(words.filter((w) => !stop.has(w)))];
}

export function sentence(random: Random, topic: string[]): string {
  const who = random.chance(0.5) ? person(random) : random.pick(['one reader', 'a colleague', 'the organiser', 'my neighbour', 'a reviewer', 'the team lead', 'a former student']);
  const word = topic.length > 0 ? random.pick(topic) : random.pick(OBJECTS);
  const n = random.int(2, 97);
  const forms = [
    () => `${random.pick(CONNECTIVES)}, ${who} ${random.pick(VERBS)} that ${random.pick(OBJECTS)} was ${random.pick(ADJECTIVES)} but worth ${n} minutes of anyone's time.`,
    () => `${capital(who)} ${random.pick(VERBS)} that the question of ${word} came up ${n} times in ${place(random)} alone.`,
    () => `Nobody at ${org(random)} expected ${random.pick(OBJECTS)} to hinge on ${word}, yet it did.`,
    () => `The notes from ${date(random)} mention ${word} twice, both times in a ${random.pick(ADJECTIVES)} aside.`,
    () => `${capital(random.pick(OBJECTS))} ran ${n} percent over, which ${who} blamed on ${word}.`,
    () => `If you ask ${who}, ${word} is less about technology than about habits.`,
    () => `We spent most of ${random.pick(MONTHS)} arguing over ${word} and ${random.pick(OBJECTS)}.`,
    () => `${capital(who)} kept a tally: ${n} cases, ${random.int(1, n)} of them involving ${word}.`,
    () => `A ${random.pick(ADJECTIVES)} memo from ${org(random)} put ${word} at the top of the list.`,
    () => `The ${random.pick(ADJECTIVES)} part, according to ${who}, was explaining ${word} to people in ${place(random)}.`,
  ];
  return random.pick(forms)();
}

export function paragraph(random: Random, topic: string[], sentences = random.int(3, 6)): string {
  return Array.from({ length: sentences }, () => sentence(random, topic)).join(' ');
}

export function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
