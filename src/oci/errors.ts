/**
 * The one error type of the registry API. Every failure that reaches a client is an OciError,
 * rendered by http/render-error.ts as `{"errors":[{code,message,detail}]}`.
 */

/** The error codes of the OCI distribution spec (plus TOOMANYREQUESTS and UNKNOWN from Distribution). */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type OciErrorCode = keyof typeof ERROR_CODES;

export interface OciErrorOptions {
  message?: string;
  detail?: unknown;
  /** Overrides the code's default status (e.g. BLOB_UPLOAD_INVALID as 416 for a bad range). */
  status?: number;
  headers?: Record<string, string>;
  cause?: unknown;
}

export class OciError extends Error {
  readonly code: OciErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: OciErrorCode, options: OciErrorOptions = {}) {
    super(options.message ?? ERROR_CODES[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OciError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }

  /** The JSON body the spec defines for an error response. */
  toJSON(): { errors: Array<{ code: string; message: string; detail?: unknown }> } {
    const entry: { code: string; message: string; detail?: unknown } = { code: this.code, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}

export function isOciError(err: unknown): err is OciError {
  return err instanceof OciError;
}
