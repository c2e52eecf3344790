/**
 * The two certificate extensions X.509 path validation needs and node:crypto does not expose
 * (X509Certificate has `ca`, but not the path length, and its `keyUsage` is the *extended* key
 * usage): BasicConstraints (RFC 5280 4.2.1.9) and KeyUsage (4.2.1.3), read from the DER. Pure.
 */

/** KeyUsage bits, as numbers whose bit i is the named bit i of the BIT STRING. */
export const KEY_USAGE = { digitalSignature: 1 << 0, keyCertSign: 1 << 5 } as const;

/** What a certificate says about itself as an issuer and a signer. */
export interface CertificateConstraints {
  /** Whether the certificate has a BasicConstraints extension at all (X.509 v1 roots have none). */
  readonly basicConstraints: boolean;
  /** BasicConstraints cA (false when the extension is absent). */
  readonly ca: boolean;
  /** BasicConstraints pathLenConstraint; undefined when absent (no limit). */
  readonly pathLen?: number | undefined;
  /** KeyUsage bits (see {@link KEY_USAGE}); undefined when the extension is absent (any use). */
  readonly keyUsage?: number | undefined;
}

/** Thrown when the DER is not a certificate this reader can walk. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

interface Tlv {
  readonly tag: number;
  /** Offset of the contents, and just past them. */
  readonly start: number;
  readonly end: number;
}

/** One DER tag-length-value at `offset`, within `limit`. Only single-byte tags (all X.509 needs). */
export function readTlv(der: Uint8Array, offset: number, limit = der.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated DER');
  const tag = der[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte DER tag');
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) throw new DerError('unsupported DER length');
    if (start + n > limit) throw new DerError('truncated DER');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (der[start + i] as number);
    start += n;
  }
  const end = start + length;
  if (end > limit) throw new DerError('truncated DER');
  return { tag, start, end };
}

/** The TLVs directly inside a constructed TLV. */
function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const child = readTlv(der, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const OID = 0x06;
const BOOLEAN = 0x01;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const EXTENSIONS = 0xa3; // [3] EXPLICIT in TBSCertificate
const BASIC_CONSTRAINTS = Buffer.from([0x55, 0x1d, 0x13]); // 2.5.29.19
const KEY_USAGE_OID = Buffer.from([0x55, 0x1d, 0x0f]); // 2.5.29.15

/** BasicConstraints and KeyUsage of a DER certificate (X509Certificate.raw). */
export function certificateConstraints(der: Uint8Array): CertificateConstraints {
  const cert = readTlv(der, 0);
  if (cert.tag !== SEQUENCE) throw new DerError('a certificate is a SEQUENCE');
  const tbs = children(der, cert)[0];
  if (tbs === undefined || tbs.tag !== SEQUENCE) throw new DerError('no TBSCertificate');
  const extensions = children(der, tbs).find((t) => t.tag === EXTENSIONS);
  let basicConstraints = false;
  let ca = false;
  let pathLen: number | undefined;
  let keyUsage: number | undefined;
  if (extensions === undefined) return { basicConstraints, ca };
  const list = children(der, extensions)[0];
  if (list === undefined || list.tag !== SEQUENCE) throw new DerError('malformed extensions');
  for (const ext of children(der, list)) {
    const [id, ...rest] = children(der, ext);
    if (id === undefined || id.tag !== OID) throw new DerError('malformed extension');
    const value = rest.find((t) => t.tag === OCTET_STRING);
    if (value === undefined || (rest.length === 2 && rest[0]?.tag !== BOOLEAN)) throw new DerError('malformed extension');
    const oid = der.subarray(id.start, id.end);
    if (Buffer.compare(oid, BASIC_CONSTRAINTS) === 0) {
      const seq = readTlv(der, value.start, value.end);
      if (seq.tag !== SEQUENCE) throw new DerError('malformed basicConstraints');
      basicConstraints = true;
      for (const field of children(der, seq)) {
        if (field.tag === BOOLEAN) ca = field.end - field.start === 1 && der[field.start] !== 0;
        else if (field.tag === INTEGER) pathLen = readSmallInteger(der, field);
        else throw new DerError('malformed basicConstraints');
      }
    } else if (Buffer.compare(oid, KEY_USAGE_OID) === 0) {
      keyUsage = readBits(der, readTlv(der, value.start, value.end));
    }
  }
  return { basicConstraints, ca, pathLen, keyUsage };
}

function readSmallInteger(der: Uint8Array, tlv: Tlv): number {
  const length = tlv.end - tlv.start;
  if (length < 1 || length > 4 || ((der[tlv.start] as number) & 0x80) !== 0) throw new DerError('pathLenConstraint must be a small non-negative INTEGER');
  let n = 0;
  for (let i = tlv.start; i < tlv.end; i++) n = n * 256 + (der[i] as number);
  return n;
}

/** A named-bit BIT STRING as a number whose bit i is the string's bit i (bit 0 is the first byte's MSB). */
function readBits(der: Uint8Array, tlv: Tlv): number {
  if (tlv.tag !== BIT_STRING || tlv.end - tlv.start < 1) throw new DerError('malformed keyUsage');
  let bits = 0;
  // The first content byte is the count of unused bits; KeyUsage has 9 named bits (2 bytes).
  for (let byte = 0; byte < Math.min(2, tlv.end - tlv.start - 1); byte++) {
    const b = der[tlv.start + 1 + byte] as number;
    for (let i = 0; i < 8; i++) if (b & (0x80 >> i)) bits |= 1 << (byte * 8 + i);
  }
  return bits;
}
