import t from 'tap';
import { filterSpecProblems, MAX_RULE_INSTRUCTIONS } from '../../../core/filters/filter-spec.js';
import { compileUserPattern, PatternError } from '../../../core/filters/user-pattern.js';

/** What JavaScript's own engine finds, in Unicode mode (how user patterns are read). */
function jsFind(pattern: string, flags: string, text: string) {
  const match = new RegExp(pattern, flags.includes('u') ? flags : `${flags}u`).exec(text);
  return match ? { index: match.index, text: match[0] } : null;
}

t.test('RE2 finds the same first match as JavaScript, construct by construct', async (t) => {
  const texts = [
    'Dear Sir,\nWe need SYNERGY here. Dr. Sarah Chen agreed.',
    'tab\there\u00a0nbsp\u2003em-space\ufeffbom\u2028ls\r\nend',
    'no-break\u00a0space\u2003em\ufeffbom\u2028line', // Unicode spaces first: JavaScript's \s has them, RE2's does not
    'caf\u00e9 \u03b1\u03b2\u03b3 \u{1F600}\u{1F600} \u212a Kelvin ſ long-s',
    'a\rb a\nb a.b [x] {y} a/b 0x41 \u0000nul \bbs',
    'aaa ab abb abbb abab',
  ];
  const cases: [string, string][] = [
    ['\\bsynergy\\b', 'i'], ['Dr\\.\\s+Sarah\\s+Chen', ''], ['^dear', 'im'], ['^We', 'm'], ['^We', ''], ['end$', ''], ['\\r$', 'm'],
    ['\\s+', ''], ['\\S+', ''], ['[\\s]+', ''], ['[x\\S]+', ''], ['[^\\s\\d]{3}', ''], ['\\w+', 'i'], ['\\W+', ''], ['\\d+', ''], ['\\B\\w', ''],
    ['a.b', ''], ['a.b', 's'], ['.', ''], ['\\u{1F600}+', ''], ['\\uD83D\\uDE00', ''], ['\\u00e9', ''], ['\\x41', 'i'], ['\\0', ''], ['[\\b]', ''],
    ['\\cJ', ''], ['[^]', ''], ['[]', ''], ['[\\[\\]]', ''], ['[a-c]+', ''], ['[^a-z ]+', ''], ['\\p{Lu}\\p{Ll}+', ''], ['\\p{Script=Greek}+', ''],
    ['\\p{Letter}+', ''], ['\\P{L}+', ''], ['k', 'i'], ['\\{y\\}', ''], ['a\\/b', ''], ['(?<name>ab)+', ''], ['(a|ab)(c|bcd)?', ''], ['ab*?', ''],
    ['ab{2,3}', ''], ['(?:ab){2}', ''], ['a|b|c', ''], ['x*', ''], ['\\u{1F600}.', 'u'], ['\\s', 'u'],
  ];
  for (const [pattern, flags] of cases) {
    const compiled = compileUserPattern(pattern, flags);
    for (const text of texts) t.same(compiled.find(text), jsFind(pattern, flags, text), `/${pattern}/${flags} on ${JSON.stringify(text.slice(0, 20))}`);
  }
});

t.test('what only a backtracking engine can run is refused, saying which construct and why', async (t) => {
  const refusal = (pattern: string) => {
    try {
      compileUserPattern(pattern);
      return 'accepted';
    } catch (err) {
      t.type(err, PatternError);
      return (err as Error).message;
    }
  };
  t.match(refusal('(a)\\1'), /^backreference `\\1` is not supported: user patterns run on RE2, which never backtracks/);
  t.match(refusal('(?<w>\\w+) \\k<w>'), /^named backreference `\\k<w>` is not supported/);
  t.match(refusal('price(?=\\d)'), /^lookahead `\(\?=…\)` is not supported/);
  t.match(refusal('a(?!b)'), /^lookahead `\(\?!…\)` is not supported/);
  t.match(refusal('(?<=\\$)\\d+'), /^lookbehind `\(\?<=…\)` is not supported/);
  t.match(refusal('(?<!x)y'), /^lookbehind `\(\?<!…\)` is not supported/);
  t.match(refusal('[^\\S\\n]'), /`\\S` inside a negated class/);
  t.match(refusal('a{1001}'), /^not supported by RE2, the engine user patterns run on: .*invalid repeat count/);
  t.match(refusal('\\-'), /^not valid in Unicode mode, in which patterns are read/);
  t.match(refusal('(['), /^invalid regular expression: .*Unterminated character class/);
  t.equal(refusal('[(?=]\\(\\?!'), 'accepted', 'the same characters inside a class or escaped are literal, and fine');
});

/**
 * Patterns that take JavaScript's engine exponential time (each of these holds a worker for
 * longer than the age of the universe on its input) run on RE2 in time linear in the input.
 */
t.test('catastrophic-backtracking shapes run in bounded time on long adversarial input', { timeout: 60_000 }, async (t) => {
  const hostile: [string, string, RegExpMatchArray['index'] | null][] = [
    ['(a+)+$', `${'a'.repeat(30_000)}!`, null],
    ['(x|x)*y', 'x'.repeat(30_000), null],
    ['(\\w+\\s?)*$', `${'word '.repeat(6_000)}!`, 30_001],
    ['(a|aa)+$', `${'a'.repeat(30_000)}!`, null],
    ['^(\\w+\\s?)*$', `${'word '.repeat(6_000)}!`, null],
  ];
  for (const [pattern, text, index] of hostile) {
    const compiled = compileUserPattern(pattern);
    const cpu = process.cpuUsage();
    const match = compiled.find(text);
    const used = process.cpuUsage(cpu);
    const ms = (used.user + used.system) / 1000;
    t.equal(match?.index ?? null, index, `/${pattern}/ answers correctly`);
    t.ok(ms < 2000, `/${pattern}/ on ${text.length} characters: ${ms.toFixed(0)} ms of CPU`);
  }
});

t.test("a spec's rules together may not compile past the instruction cap; the rule that crosses it is named", async (t) => {
  const big = '(?:.*e){300}';
  t.ok(compileUserPattern(big).instructions > MAX_RULE_INSTRUCTIONS / 2, 'one large rule is within the cap');
  t.same(filterSpecProblems({ rules: [{ name: 'big', pattern: big }] }), []);
  const problems = filterSpecProblems({ rules: [{ name: 'big', pattern: big }, { name: 'small', pattern: 'x' }, { name: 'again', pattern: big }, { name: 'more', pattern: big }] });
  t.equal(problems.length, 1, 'one problem, at the rule that crosses the cap');
  t.match(problems[0], /^filters\.rules\[2\]\.pattern: the rules' patterns compile to \d+ RE2 instructions up to this one, more than the 1000 a spec may use/);
  t.same(filterSpecProblems({ rules: [{ name: 'ok', pattern: 'x' }, { name: 'bad', pattern: '(a)\\1' }] }), [
    'filters.rules[1].pattern: backreference `\\1` is not supported: user patterns run on RE2, which never backtracks, so that no pattern can stall the workers',
  ]);
});
