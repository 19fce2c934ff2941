/** The model answered a structured stage with something that is not the JSON asked for. */
export class MalformedOutputError extends Error {
  override name = 'MalformedOutputError';
  constructor(
    message: string,
    readonly finishReason: string,
  ) {
    super(message);
  }
}

/** The provider blocked or cut the answer (SAFETY, RECITATION, …); not worth retrying. */
export class BlockedOutputError extends Error {
  override name = 'BlockedOutputError';
  constructor(readonly reason: string) {
    super(`model output blocked: ${reason}`);
  }
}
