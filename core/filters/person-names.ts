/**
 * People named in a text, one canonical key each, whatever the form they are written in:
 * "Dr. Ingrid Halvorsen-Mbeki", "Ingrid Halvorsen-Mbeki" and "Ms Halvorsen-Mbeki" are one key,
 * "Ingrid Halvorsen-Mbeki". The corpus gate counts these keys per document against the names
 * ceiling, and the offline audit reports them, so both count a person once.
 *
 * - A name is a run of capitalised words on one line, separated by spaces only: a comma, a
 *   sentence end or any lower-case word other than a surname particle ends it.
 * - Titles are dropped (Dr, Ms, Prof, Professor, Sir, Dame, Rev, Capt…, with or without a dot),
 *   and so are suffixes (Jr, PhD…) and a leading function word ("Then Maria Lopez").
 * - The surname is the last word with the particles before it ("van", "de la", "bin"…), kept
 *   whole as written, like hyphens ("Halvorsen-Mbeki"), "al-"/"el-" ("al-Hashimi"), "O'" and
 *   "Mc"/"Mac" ("O'Connor", "McDonald"). The key is the given names, then the surname, as
 *   written; initials are left out ("John F. Kennedy" is "John Kennedy"), and so are common
 *   sentence openers before a name ("Later Ingrid Halvorsen-Mbeki"). A title starts a new name.
 * - A surname alone ("Ms Halvorsen-Mbeki", "Halvorsen-Mbeki said") is joined to the full name
 *   with that surname in the same document. Without one, a surname behind a title or a particle
 *   is still a person: `resolve` may join it to the one full name with that surname seen in the
 *   corpus (see SurnameDirectory), else it counts as the surname alone. A bare capitalised word
 *   with no full name to join ("Paris", "Monday") is not taken for a person.
 *
 * Cost: one precompiled regular expression finds runs of capitalised words natively; script
 * reads only the runs of two words or more (a few dozen in a 5,000-character document), and
 * nothing is compiled per name (bench/person-names.ts measures µs per 5,000-character document).
 * Scripts beyond Latin, Greek and Cyrillic are not read for names.
 */

import { STOPWORD_LIST } from './text-features.js';

const TITLES = new Set(
  'Dr Mr Mrs Ms Mx Miss Prof Professor Sir Dame Lord Lady Rev Reverend Fr Father Capt Captain Lt Lieutenant Col Colonel Gen General Maj Major Sgt Sergeant Cmdr Commander Adm Admiral Hon Judge Justice Dean Rabbi Imam Pastor Sister Brother Doctor Senator Sen Rep Gov Governor Mayor President Minister Chancellor Inspector Detective Officer Nurse Coach Chef Mme Mlle Herr Frau Sr Sra Srta Dra'.split(' '),
);
/** Titles that take a given name ("Sir Ian"), not a surname. */
const GIVEN_NAME_TITLES = new Set(['Sir', 'Dame', 'Lord', 'Lady', 'Brother', 'Sister', 'Father']);
/** An Arabic surname's article, written joined: "al-Hashimi", "el-Amin". */
const AL_PREFIX = /^(?:al|el)-/i;
const SUFFIXES = new Set('Jr Sr II III IV PhD MD MBA Esq OBE MBE CBE KBE DBE'.split(' '));
const PARTICLES = new Set('van von de da di du del della der den la le dos das do ter ten bin ibn ben bint ap af zu'.split(' '));
/** Words that start a sentence or a heading rather than a name. */
const NOT_GIVEN_NAMES = new Set(
  'The A An In On At For From This That These Those It Its We Our They Their He She His Her I My You Your If When While After Before Then But And Or So Yes No Not Hi Hello Dear Best Thanks Regards Subject To Date Thread Abstract Reporting Present Action Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August September October November December Anyone Everyone People Nobody Somebody Customer Support Grant Proposal Incident Annual Case Press Training Field Book Letter Policy Technical Interview Radio Community University Company Student Court Travel Startup Magazine Conference Meeting Product Podcast Personal Internal News Social Diary Research Peer Textbook Newsletter Op Parliamentary Reviewed Recorded Notes Report Summary Study Review Page Post Section Minutes Memo Column Excerpt Transcript Feature Essay Filing Bulletin Manual Debate Segment Log Chat Release Pitch Lecture Obituary Wiki Postmortem Ask According Did Does Is Are Was Were Has Have Had Will Would Can Could Should Dear Thank Meet Call Email Contact Per Via Later Yesterday Today Tomorrow Meanwhile Still Also Even Only Perhaps Maybe Now Here There Why How What Who Where Instead Indeed Sadly Luckily Finally Eventually Separately Recently Apparently Clearly Honestly Naturally Unfortunately Fortunately Obviously Ultimately Initially Mostly Like Unlike Dear Congratulations Welcome Please Sorry'.split(' '),
);

/** Capitalised function words ("With", "The") and sentence openers: never part of a name (one Set lookup, no lower-casing). */
const CAPITALISED_STOPWORDS = new Set(STOPWORD_LIST.map((w) => w.charAt(0).toUpperCase() + w.slice(1)));
const NOT_NAME_WORDS = new Set([...NOT_GIVEN_NAMES, ...CAPITALISED_STOPWORDS]);

const UPPER = 'A-Z\\u00C0-\\u00DE\\u0100-\\u024F\\u0370-\\u03FF\\u0400-\\u04FF';
const LETTER = 'A-Za-z0-9\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u024F\\u0300-\\u036F\\u0370-\\u03FF\\u0400-\\u04FF';
const WORD = `[${LETTER}]*(?:['’-][${LETTER}]+)*\\.?`;
/**
 * A run of two or more capitalised words one to three spaces apart (one word, most often a
 * sentence's first, names no one by itself, and costs no match object), with particles and "al-"/"el-" names
 * inside it ("Ludwig van Beethoven", "Amira al-Hashimi"), each word with inner hyphens and
 * apostrophes and one trailing dot (a title's, an initial's or a sentence end: told apart in
 * script). The Latin, Greek and Cyrillic capitals of the class include some lower-case letters
 * (the blocks interleave them): a word is checked again before it is read as a name.
 */
const RUN = new RegExp(
  `(?<![${LETTER}'’-])[${UPPER}]${WORD}(?:[ \\t]{1,3}(?:(?:${[...PARTICLES].join('|')})[ \\t]{1,3})*(?:[${UPPER}]|[ae]l-[${UPPER}])${WORD})+`,
  'g',
);

/** The words of a run (split by hand: a split by regular expression builds a new one each call). */
function splitWords(run: string): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i <= run.length; i++) {
    const c = i < run.length ? run.charCodeAt(i) : 32;
    if (c === 32 || c === 9) {
      if (start >= 0) words.push(run.slice(start, i));
      start = -1;
    } else if (start < 0) start = i;
  }
  return words;
}

function isCapitalised(word: string): boolean {
  const c = word.charCodeAt(0);
  if (c >= 65 && c <= 90) return true;
  if (c < 0xc0) return AL_PREFIX.test(word);
  const first = word[0]!;
  return first !== first.toLowerCase();
}

/** A capitalised word with no dot, title or possessive to strip: read as it stands. */
function isPlainName(word: string): boolean {
  const c = word.charCodeAt(0);
  const last = word.charCodeAt(word.length - 1);
  return c >= 65 && c <= 90 && word.length > 1 && last !== 46 && !(last === 115 && word.length > 2 && (word.charCodeAt(word.length - 2) === 39 || word.charCodeAt(word.length - 2) === 0x2019)) && !TITLES.has(word);
}

/** What one name run says: a full name (given + surname), or a surname alone and whether a title or particle marks it as a person. */
interface Mention {
  given?: string;
  surname: string;
  /** Behind a title or with a particle: a person even without a full name in the document. */
  marked: boolean;
  /** The title takes a given name ("Sir Ian"): the word is a given name, not a surname. */
  givenOnly?: boolean;
}

function stripPossessive(word: string): string {
  return word.endsWith("'s") || word.endsWith('’s') ? word.slice(0, -2) : word;
}

/** One run of adjacent tokens → a mention, or none (a heading, a single ordinary word). */
function mentionOf(run: string[], atLineStart: boolean): Mention | null {
  let i = 0;
  let titled = false;
  let givenTitle = false;
  // Leading function words, then titles ("Prof. Dr. Ingrid …").
  while (i < run.length && NOT_NAME_WORDS.has(run[i]!)) i++;
  while (i < run.length && TITLES.has(bare(run[i]!))) {
    titled = true;
    givenTitle = GIVEN_NAME_TITLES.has(bare(run[i]!));
    i++;
  }
  let end = run.length;
  while (end > i && (SUFFIXES.has(bare(run[end - 1]!)) || PARTICLES.has(run[end - 1]!))) end--;
  if (end <= i) return null;
  const words = run.slice(i, end).map((w) => stripPossessive(bare(w)));
  // Title-case headings ("Quarterly Budget Review Notes") are not names.
  let capitals = 0;
  for (const w of words) if (!PARTICLES.has(w) && !isInitial(w)) capitals++;
  if (capitals > 4 || (atLineStart && !titled && capitals >= 3)) return null;
  let s = words.length - 1;
  while (s > 0 && PARTICLES.has(words[s - 1]!)) s--;
  const surname = words.slice(s).join(' ');
  // Given names: every word before the surname but initials ("John F. Kennedy" is "John Kennedy").
  const given = words.slice(0, s).filter((w) => !isInitial(w));
  if (given.length > 0 && !PARTICLES.has(given[0]!)) return { given: given.join(' '), surname, marked: true };
  return { surname, marked: titled || s < words.length - 1 || AL_PREFIX.test(surname), ...(givenTitle ? { givenOnly: true } : {}) };
}

function bare(word: string): string {
  return word.endsWith('.') ? word.slice(0, -1) : word;
}

function isInitial(word: string): boolean {
  return word.length === 1 || (word.length === 2 && word[1] === '.');
}

/** A surname as a lookup key: particles' case aside ("Van Beethoven" is "van Beethoven"). */
export function surnameKey(surname: string): string {
  return surname.toLowerCase();
}

/** The people of one text before any corpus-wide join: full-name keys, and titled or particled surnames with no full name here. */
export interface PeopleInText {
  keys: string[];
  surnamesOnly: string[];
}

/** Finds the people of a text (see the module comment); `surnamesOnly` are for `resolve`. */
export function peopleIn(text: string): PeopleInText {
  const mentions: Mention[] = [];
  RUN.lastIndex = 0;
  for (let m = RUN.exec(text); m !== null; m = RUN.exec(text)) {
    const words = splitWords(m[0]);
    // The common case, two plain capitalised words ("Sarah Chen"): a full name as it stands.
    if (words.length === 2 && isPlainName(words[0]!) && isPlainName(words[1]!) && !NOT_NAME_WORDS.has(words[0]!) && !SUFFIXES.has(words[1]!) && !CAPITALISED_STOPWORDS.has(words[1]!)) {
      mentions.push({ given: words[0]!, surname: words[1]!, marked: true });
      continue;
    }
    const atLineStart = m.index === 0 || text.charCodeAt(m.index - 1) === 10;
    // A name ends at a dot that closes neither a title nor an initial, and before a lower-case word.
    let from = 0;
    for (let k = 0; k < words.length; k++) {
      const word = words[k]!;
      // A title starts a new name ("Later Ms Halvorsen-Mbeki"); a capitalised function word ("With The") is none.
      if (k > from && TITLES.has(bare(word))) {
        if (k - 1 > from) {
          const mention = mentionOf(words.slice(from, k), atLineStart && from === 0);
          if (mention) mentions.push(mention);
        }
        from = k;
      }
      const broken = (!PARTICLES.has(word) && !isCapitalised(word)) || (k > from && CAPITALISED_STOPWORDS.has(word));
      const last = broken ? k - 1 : k;
      if (broken || k === words.length - 1 || (word.endsWith('.') && !TITLES.has(bare(word)) && !isInitial(word))) {
        if (last > from) {
          const mention = mentionOf(words.slice(from, last + 1), atLineStart && from === 0);
          if (mention) mentions.push(mention);
        }
        from = k + 1;
      }
    }
  }

  const keys = new Set<string>();
  const givenNames = new Set<string>();
  let surnameMentions = 0;
  for (const mention of mentions) {
    if (!mention.given) {
      surnameMentions++;
      continue;
    }
    keys.add(`${mention.given} ${mention.surname}`);
    givenNames.add(mention.given);
  }
  if (surnameMentions === 0) return { keys: [...keys], surnamesOnly: [] };
  // Full names by their surname, and by its last word ("Mr Beethoven" is Ludwig van Beethoven).
  const bySurname = new Set<string>();
  for (const mention of mentions) {
    if (!mention.given) continue;
    bySurname.add(surnameKey(mention.surname));
    const last = mention.surname.lastIndexOf(' ');
    if (last >= 0) bySurname.add(surnameKey(mention.surname.slice(last + 1)));
  }
  const surnamesOnly = new Set<string>();
  for (const mention of mentions) {
    if (mention.given) continue;
    // Joined to the full name here with that surname (two, "Ana Silva" and "Rui Silva": both are counted already).
    if (bySurname.has(surnameKey(mention.surname))) continue;
    // "Sir Ian" after "Ian McKellen": a given name, already counted with its full name.
    if (mention.givenOnly && givenNames.has(mention.surname)) continue;
    if (mention.marked) surnamesOnly.add(mention.surname);
  }
  return { keys: [...keys], surnamesOnly: [...surnamesOnly] };
}

/**
 * The canonical person keys of a text: its full names, then each surname-only mention with no
 * full name in the text, joined by `resolve` (a full name seen in the corpus) or kept as the surname.
 */
export function personKeys(text: string, resolve?: (surname: string) => string | undefined): string[] {
  return resolvePeople(peopleIn(text), resolve);
}

/** `personKeys` of a text whose people were already found. */
export function resolvePeople(people: PeopleInText, resolve?: (surname: string) => string | undefined): string[] {
  if (people.surnamesOnly.length === 0) return people.keys;
  const keys = new Set(people.keys);
  for (const surname of people.surnamesOnly) keys.add(resolve?.(surname) ?? surname);
  return [...keys];
}

/** The surname of a full-name key ("Ludwig van Beethoven" → "van Beethoven"), or undefined for a surname-only key. */
export function surnameOfKey(key: string): string | undefined {
  const words = key.split(' ');
  // A surname-only key with a particle ("van Beethoven", "de la Cruz") is not a full name.
  if (words.length < 2 || PARTICLES.has(words[0]!.toLowerCase())) return undefined;
  let s = words.length - 1;
  while (s > 1 && PARTICLES.has(words[s - 1]!)) s--;
  return words.slice(s).join(' ');
}

/**
 * Full names by surname, for joining a surname-only mention to the one full name in the corpus
 * with that surname; a surname two full names share joins nothing (two people, not one).
 */
export class SurnameDirectory {
  readonly #bySurname = new Map<string, string | null>();

  add(key: string): void {
    const surname = surnameOfKey(key);
    if (surname === undefined) return;
    for (const k of surnameLookups(surname)) {
      const known = this.#bySurname.get(k);
      if (known === undefined) this.#bySurname.set(k, key);
      else if (known !== key) this.#bySurname.set(k, null);
    }
  }

  resolve = (surname: string): string | undefined => this.#bySurname.get(surnameKey(surname)) ?? undefined;

  get size(): number {
    return this.#bySurname.size;
  }
}

/** A full name's surname is found by itself and by its last word ("van Beethoven", "Beethoven"). */
function surnameLookups(surname: string): string[] {
  const last = surname.lastIndexOf(' ');
  return last >= 0 ? [surnameKey(surname), surnameKey(surname.slice(last + 1))] : [surnameKey(surname)];
}
