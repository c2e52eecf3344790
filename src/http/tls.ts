import { readFile, stat } from 'node:fs/promises';
import type { SecureContextOptions, SecureVersion, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

/** The `http.tls` settings Berth serves with. */
export interface TlsSettings {
  readonly certificate: string;
  readonly key: string;
  readonly clientcas: readonly string[];
  readonly clientauth: 'request-client-cert' | 'require-any-client-cert' | 'verify-client-cert-if-given' | 'require-and-verify-client-cert';
  readonly minimumtls: 'tls1.0' | 'tls1.1' | 'tls1.2' | 'tls1.3';
  readonly ciphersuites: readonly string[];
}

/** What a TLS server needs from the settings beyond the certificate: who must present one, versions, ciphers. */
export interface TlsServerOptions extends SecureContextOptions {
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

const VERSIONS: Record<TlsSettings['minimumtls'], SecureVersion> = { 'tls1.0': 'TLSv1', 'tls1.1': 'TLSv1.1', 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3' };

/** Go's cipher suite names (Distribution's config) → OpenSSL's, as Node takes them. */
const CIPHERS: Record<string, string> = {
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
};

/** The OpenSSL cipher list for Go cipher suite names (pure); undefined leaves Node's secure default. */
export function opensslCiphers(goNames: readonly string[]): string | undefined {
  if (goNames.length === 0) return undefined;
  return goNames.map((n) => {
    const mapped = CIPHERS[n];
    if (mapped === undefined) throw new Error(`http.tls.ciphersuites: unknown cipher suite ${n}`);
    return mapped;
  }).join(':');
}

/** Server options derived from the settings, without the certificate (pure). */
export function tlsServerOptions(settings: TlsSettings): Omit<TlsServerOptions, 'cert' | 'key' | 'ca'> {
  const ciphers = opensslCiphers(settings.ciphersuites);
  const wantsClientCerts = settings.clientcas.length > 0;
  return {
    minVersion: VERSIONS[settings.minimumtls],
    ...(ciphers !== undefined ? { ciphers } : {}),
    // With client CAs, Distribution defaults to require-and-verify; "if given" modes accept anonymous clients.
    requestCert: wantsClientCerts,
    rejectUnauthorized: wantsClientCerts && (settings.clientauth === 'require-and-verify-client-cert' || settings.clientauth === 'require-any-client-cert'),
  };
}

/**
 * Whether a client certificate that was presented must have verified, although a client without
 * one is let in: Go's VerifyClientCertIfGiven. Node has no such mode (rejectUnauthorized either
 * requires a certificate or accepts any), so the server requests one without rejecting and
 * {@link refuseUnverifiedClientCert} closes connections whose certificate did not verify.
 */
export function verifiesGivenClientCert(settings: TlsSettings): boolean {
  return settings.clientcas.length > 0 && settings.clientauth === 'verify-client-cert-if-given';
}

/**
 * The `secureConnection` check of `verify-client-cert-if-given`: destroys a connection that
 * presented a client certificate which did not verify against `clientcas` (another CA, self-signed,
 * expired), before any request on it is read. Returns whether it was refused.
 */
export function refuseUnverifiedClientCert(socket: TLSSocket, logger: Logger): boolean {
  if (socket.authorized) return false;
  const peer = socket.getPeerCertificate();
  // No certificate: an object without fields (or null once the connection is gone).
  if (peer === null || peer === undefined || Object.keys(peer).length === 0) return false;
  logger.info({ remote: socket.remoteAddress, reason: String(socket.authorizationError) }, 'TLS client certificate refused');
  socket.destroy();
  return true;
}

/** Reads the certificate, key and client CAs named by the settings. Throws naming the file that failed. */
export async function readTlsMaterial(settings: TlsSettings): Promise<{ cert: Buffer; key: Buffer; ca?: Buffer[] }> {
  const read = async (path: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`http.tls.${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  };
  const [cert, key, ...cas] = await Promise.all([read(settings.certificate, 'certificate'), read(settings.key, 'key'), ...settings.clientcas.map((p) => read(p, 'clientcas'))]);
  return cas.length > 0 ? { cert, key, ca: cas } : { cert, key };
}

/**
 * Reloads the certificate and key when their files change (operators rotate certificates, and
 * Kubernetes swaps secret files by symlink), by polling their modification times. A bad new pair
 * is logged and the old one kept.
 */
export function watchTlsFiles(settings: TlsSettings, apply: (material: { cert: Buffer; key: Buffer; ca?: Buffer[] }) => void, logger: Logger, intervalMs = 2_000): { stop: () => void } {
  const files = [settings.certificate, settings.key, ...settings.clientcas];
  const fingerprint = async (): Promise<string> =>
    (await Promise.all(files.map((f) => stat(f).then((s) => `${s.mtimeMs}:${s.size}:${s.ino}`, () => 'missing')))).join('|');
  let last: string | undefined;
  let busy = false;
  void fingerprint().then((f) => (last = f));
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const now = await fingerprint();
      if (last === undefined || now === last) return;
      try {
        const material = await readTlsMaterial(settings);
        apply(material);
        last = now;
        logger.info({ certificate: settings.certificate }, 'reloaded TLS certificate');
      } catch (err) {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'TLS certificate reload failed; keeping the previous certificate');
        last = now;
      }
    })().finally(() => {
      busy = false;
    });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
