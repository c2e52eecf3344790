/** Why a key could not be loaded or a token's signing key could not be trusted. */
export class TokenKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenKeyError';
  }
}
