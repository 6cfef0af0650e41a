/** An error whose message a person can act on, with a stable code for programs. */
export class GroupError extends Error {
  override readonly name = 'GroupError';

  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
