/**
 * Rewrites a JavaScript regular expression (already known to be valid in Unicode mode, flag `u`)
 * into RE2 syntax with the same meaning, or says which construct RE2 cannot run.
 *
 * Unicode mode is what makes a small lexer enough: there every `\` escape is one of a closed set,
 * a character class cannot nest and `{` is always a quantifier, so the pattern's tokens are
 * unambiguous, and RE2 matches by code point as JavaScript does in that mode. What differs is
 * spelled out here: `\s` (JavaScript's is Unicode white space, RE2's ASCII), `.` (JavaScript also
 * stops at `\r`, U+2028 and U+2029), `\u` and `\c` escapes, `[]` and `[^]`, a `[` inside a class
 * (RE2 would read `[:alpha:]` as a POSIX class), `\b` inside a class (backspace) and the long
 * names of `\p{…}`.
 */

/** A construct the linear-time engine cannot run; the message says which and why. */
export class UnsupportedPatternError extends Error {
  override name = 'UnsupportedPatternError';
}

/** JavaScript's `\s`: WhiteSpace and LineTerminator (U+0009–U+000D, U+FEFF, and Zs, Zl, Zp). */
const SPACE_ITEMS = '\\t\\n\\x{B}\\f\\r\\x{FEFF}\\p{Z}';
const ANY = '\\x{0}-\\x{10FFFF}';
const NOT_NEWLINE = '[^\\n\\r\\x{2028}\\x{2029}]';

/** Long General_Category names JavaScript accepts, by the short names RE2 knows. */
const CATEGORY: Record<string, string> = {
  Letter: 'L', Cased_Letter: 'LC', Uppercase_Letter: 'Lu', Lowercase_Letter: 'Ll', Titlecase_Letter: 'Lt', Modifier_Letter: 'Lm', Other_Letter: 'Lo',
  Mark: 'M', Nonspacing_Mark: 'Mn', Spacing_Mark: 'Mc', Enclosing_Mark: 'Me',
  Number: 'N', Decimal_Number: 'Nd', digit: 'Nd', Letter_Number: 'Nl', Other_Number: 'No',
  Punctuation: 'P', punct: 'P', Connector_Punctuation: 'Pc', Dash_Punctuation: 'Pd', Open_Punctuation: 'Ps', Close_Punctuation: 'Pe',
  Initial_Punctuation: 'Pi', Final_Punctuation: 'Pf', Other_Punctuation: 'Po',
  Symbol: 'S', Math_Symbol: 'Sm', Currency_Symbol: 'Sc', Modifier_Symbol: 'Sk', Other_Symbol: 'So',
  Separator: 'Z', Space_Separator: 'Zs', Line_Separator: 'Zl', Paragraph_Separator: 'Zp',
  Other: 'C', Control: 'Cc', cntrl: 'Cc', Format: 'Cf', Surrogate: 'Cs', Private_Use: 'Co', Unassigned: 'Cn',
};

/** Backreferences and lookaround are what only a backtracking engine can run. */
const needsBacktracking = (what: string) =>
  new UnsupportedPatternError(`${what} is not supported: user patterns run on RE2, which never backtracks, so that no pattern can stall the workers`);

const hex = (codePoint: number) => `\\x{${codePoint.toString(16).toUpperCase()}}`;

/**
 * The RE2 source for `pattern`; `dotAll` is the `s` flag (`.` then matches everything and is left
 * to RE2's own `s` flag). Capturing groups become non-capturing: only the whole match is used,
 * and captures cost RE2 work per character.
 */
export function jsToRe2(pattern: string, dotAll: boolean): string {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const [text, next] = escape(pattern, i, false);
      out += text;
      i = next;
    } else if (c === '[') {
      const [text, next] = characterClass(pattern, i);
      out += text;
      i = next;
    } else if (c === '(') {
      const [text, next] = groupOpening(pattern, i);
      out += text;
      i = next;
    } else if (c === '.') {
      out += dotAll ? '.' : NOT_NEWLINE;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function groupOpening(pattern: string, i: number): [string, number] {
  const head = pattern.slice(i, i + 4);
  if (head.startsWith('(?=') || head.startsWith('(?!')) {
    throw needsBacktracking(`lookahead \`${head.slice(0, 3)}…)\``);
  }
  if (head === '(?<=' || head === '(?<!') throw needsBacktracking(`lookbehind \`${head}…)\``);
  if (head.startsWith('(?<')) {
    // A named group: the name is not needed, only the grouping.
    const close = pattern.indexOf('>', i);
    return ['(?:', close + 1];
  }
  if (head.startsWith('(?')) return ['(?', i + 2];
  return ['(?:', i + 1];
}

/** One escape at `i` (a backslash); returns RE2 text and the index after it. */
function escape(pattern: string, i: number, inClass: boolean): [string, number] {
  const c = pattern[i + 1]!;
  if (c >= '1' && c <= '9') throw needsBacktracking(`backreference \`\\${c}\``);
  switch (c) {
    case 'k':
      throw needsBacktracking(`named backreference \`${pattern.slice(i, pattern.indexOf('>', i) + 1)}\``);
    case 'u':
      return unicodeEscape(pattern, i);
    case 'c':
      return [hex(pattern.charCodeAt(i + 2) % 32), i + 3];
    case '0':
      return [hex(0), i + 2];
    case 's':
      return [inClass ? SPACE_ITEMS : `[${SPACE_ITEMS}]`, i + 2];
    case 'S':
      // Inside a class the caller handles `\S` (RE2 cannot put a negated set inside a class).
      return [`[^${SPACE_ITEMS}]`, i + 2];
    case 'b':
      return [inClass ? hex(8) : '\\b', i + 2];
    case 'p':
    case 'P':
      return property(pattern, i);
    default:
      // `\d \D \w \W \B \n \r \t \f \v \xHH`, and escaped syntax characters: RE2 reads them alike.
      return [`\\${c}`, i + 2];
  }
}

function unicodeEscape(pattern: string, i: number): [string, number] {
  if (pattern[i + 2] === '{') {
    const close = pattern.indexOf('}', i);
    return [hex(parseInt(pattern.slice(i + 3, close), 16)), close + 1];
  }
  const unit = parseInt(pattern.slice(i + 2, i + 6), 16);
  const low = /^\\u([0-9a-fA-F]{4})/.exec(pattern.slice(i + 6));
  if (unit >= 0xd800 && unit <= 0xdbff && low) {
    const lowUnit = parseInt(low[1]!, 16);
    if (lowUnit >= 0xdc00 && lowUnit <= 0xdfff) return [hex((unit - 0xd800) * 0x400 + (lowUnit - 0xdc00) + 0x10000), i + 12];
  }
  if (unit >= 0xd800 && unit <= 0xdfff) throw new UnsupportedPatternError(`a lone surrogate \`${pattern.slice(i, i + 6)}\` is not supported`);
  return [hex(unit), i + 6];
}

/** `\p{…}` / `\P{…}`: `Script=` and `General_Category=` prefixes and long category names, as RE2 spells them. */
function property(pattern: string, i: number): [string, number] {
  const close = pattern.indexOf('}', i);
  const body = pattern.slice(i + 3, close);
  const eq = body.indexOf('=');
  let name = body;
  if (eq >= 0) {
    const key = body.slice(0, eq);
    if (!['General_Category', 'gc', 'Script', 'sc'].includes(key)) {
      throw new UnsupportedPatternError(`the Unicode property \`${pattern.slice(i, close + 1)}\` is not supported (General_Category and Script are)`);
    }
    name = body.slice(eq + 1);
  }
  return [`\\${pattern[i + 1]}{${CATEGORY[name] ?? name}}`, close + 1];
}

/** A character class from `[` at `i` to its `]`. */
function characterClass(pattern: string, start: number): [string, number] {
  let i = start + 1;
  const negated = pattern[i] === '^';
  if (negated) i++;
  let items = '';
  let notSpace = false;
  while (pattern[i] !== ']') {
    const c = pattern[i]!;
    if (c === '\\') {
      if (pattern[i + 1] === 'S') {
        notSpace = true;
        i += 2;
        continue;
      }
      const [text, next] = escape(pattern, i, true);
      items += text;
      i = next;
    } else {
      items += c === '[' ? '\\[' : c;
      i++;
    }
  }
  const end = i + 1;
  if (!notSpace) {
    if (items === '') return [negated ? `[${ANY}]` : `[^${ANY}]`, end];
    return [`[${negated ? '^' : ''}${items}]`, end];
  }
  // `[x\S]` is "x or not a space": RE2 cannot negate inside a class, so the union is spelled out.
  if (negated) throw new UnsupportedPatternError('`\\S` inside a negated class (`[^…\\S…]`) is not supported; write the space characters it keeps instead');
  return [items === '' ? `[^${SPACE_ITEMS}]` : `(?:[${items}]|[^${SPACE_ITEMS}])`, end];
}
