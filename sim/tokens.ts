/** The simulator's token count: about four characters a token, used for usage, countTokens and quotas alike. */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}
