import { createHmac, timingSafeEqual } from 'node:crypto';

/** What an upload's Location carries between requests, signed so no client can forge it. */
export interface UploadState {
  readonly name: string;
  readonly uuid: string;
  readonly offset: number;
  readonly startedAt: string;
  /** Who started the upload (the grant's user), '' when anonymous: only they may continue it. */
  readonly subject: string;
}

/** Signs and verifies the `_state` query parameter of upload URLs with `http.secret` (HMAC-SHA256). */
export class UploadStateCodec {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(secret, 'utf8');
  }

  encode(state: UploadState): string {
    const payload = Buffer.from(JSON.stringify([state.name, state.uuid, state.offset, state.startedAt, state.subject])).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The state in a token, or undefined when the token is malformed or its signature is wrong. */
  decode(token: string): UploadState | undefined {
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 4096) return undefined;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      if (!Array.isArray(value) || value.length !== 5) return undefined;
      const [name, uuid, offset, startedAt, subject] = value as unknown[];
      if (typeof name !== 'string' || typeof uuid !== 'string' || typeof startedAt !== 'string' || typeof subject !== 'string') return undefined;
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return undefined;
      return { name, uuid, offset, startedAt, subject };
    } catch {
      return undefined;
    }
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
