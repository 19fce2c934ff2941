import { RE2JS } from 're2js';
import { jsToRe2, UnsupportedPatternError } from './js-to-re2.js';

/**
 * A spec's own filter pattern (`filters.rules[i].pattern`), run on every item of a run in every
 * worker. JavaScript's engine backtracks, so one pattern such as `(a+)+$` can hold a worker's
 * event loop for minutes on a single item; user patterns therefore run on RE2 (the re2js port),
 * which never backtracks: its work is linear in the text, times the compiled program's size.
 *
 * The contract stays "a JavaScript regular expression", read in Unicode mode (as if flag `u`
 * were given, which is how RE2 reads text: by code point), with flags `i`, `m`, `s`, `u`.
 * What RE2 cannot run is refused when the run is submitted, naming the construct:
 * backreferences (`\1`, `\k<name>`), lookahead and lookbehind. See js-to-re2.ts for how the rest
 * is translated.
 */

/** The first match: where it starts (a UTF-16 index, as String#slice counts) and its text. */
export interface PatternMatch {
  index: number;
  text: string;
}

export interface UserPattern {
  /** The RE2 program's size; matching an item costs at most about this many steps per character. */
  readonly instructions: number;
  find(text: string): PatternMatch | null;
}

/** Why a pattern is refused; the message completes `filters.rules[i].pattern: …`. */
export class PatternError extends Error {
  override name = 'PatternError';
}

function jsSyntaxError(pattern: string, flags: string): string | null {
  try {
    new RegExp(pattern, flags);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Compiles a user pattern, or throws PatternError saying why it is refused. */
export function compileUserPattern(pattern: string, flags = ''): UserPattern {
  const invalid = jsSyntaxError(pattern, flags);
  if (invalid) throw new PatternError(`invalid regular expression: ${invalid}`);
  const unicodeFlags = flags.includes('u') ? flags : `${flags}u`;
  const notUnicode = jsSyntaxError(pattern, unicodeFlags);
  if (notUnicode) throw new PatternError(`not valid in Unicode mode, in which patterns are read (as if flag u were given): ${notUnicode}`);

  let source: string;
  try {
    source = jsToRe2(pattern, flags.includes('s'));
  } catch (err) {
    if (err instanceof UnsupportedPatternError) throw new PatternError(err.message);
    throw err;
  }
  const re2Flags = (flags.includes('i') ? RE2JS.CASE_INSENSITIVE : 0) | (flags.includes('m') ? RE2JS.MULTILINE : 0) | (flags.includes('s') ? RE2JS.DOTALL : 0);
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, re2Flags);
  } catch (err) {
    throw new PatternError(`not supported by RE2, the engine user patterns run on: ${(err as Error).message}`);
  }
  return {
    instructions: re.programSize(),
    find(text) {
      // test() runs RE2's DFA, a fraction of exec()'s cost, and most items match no rule.
      if (!re.test(text)) return null;
      // re2js types exec() as any[]; it is a RegExpExecArray (index in UTF-16 units, as String#slice counts).
      const match = re.exec(text) as RegExpExecArray | null;
      return match ? { index: match.index, text: match[0] } : null;
    },
  };
}
