import { OciError } from '../oci/errors.js';

/** Retry-After (seconds) of an upload refused because too many are in flight. */
export const UPLOAD_RETRY_AFTER_SECONDS = 5;

/** The default of `http.maxuploads`. */
export const DEFAULT_MAX_UPLOADS = 512;

/**
 * A cap on upload requests streaming a body into this process at once (`http.maxuploads`): each
 * holds a transfer buffer and a socket's worth of kernel and stream buffers, and nothing else
 * bounds how many clients may push at once. Past the cap, a request gets 429 TOOMANYREQUESTS with
 * Retry-After before any of its body is read.
 */
export class UploadSlots {
  #inFlight = 0;

  constructor(readonly max: number = DEFAULT_MAX_UPLOADS) {}

  /** Upload requests streaming right now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Takes a slot (release it in a `finally`); throws TOOMANYREQUESTS when none is free. */
  acquire(): () => void {
    if (this.#inFlight >= this.max) {
      throw new OciError('TOOMANYREQUESTS', {
        message: `too many uploads in flight (http.maxuploads: ${this.max}); retry later`,
        headers: { 'Retry-After': String(UPLOAD_RETRY_AFTER_SECONDS) },
      });
    }
    this.#inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight--;
    };
  }
}
