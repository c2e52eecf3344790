/**
 * Drives the real `skopeo` client (Debian package, 1.9 here) against a plain-HTTP registry.
 *
 * Every call passes `--insecure-policy` (no signature policy file is needed or consulted)
 * and disables TLS verification, since test registries listen on plain HTTP on 127.0.0.1.
 * Registry references are `host:port/name:tag` or `host:port/name@digest`; `docker://` is
 * added when missing.
 */
import { execFile } from 'node:child_process';

/** Options for one skopeo run. */
export interface SkopeoOptions {
  /** Kill skopeo and fail after this long (default 120 s). */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Readonly<Record<string, string>>;
}

/** A skopeo run that failed: non-zero exit, killed by timeout, or not started at all. */
export class SkopeoError extends Error {
  constructor(
    message: string,
    /** The arguments skopeo was run with. */
    readonly args: readonly string[],
    /** Its exit code, or null when it was killed or never ran. */
    readonly exitCode: number | null,
    /** What it wrote to stderr. */
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'SkopeoError';
  }
}

const MAX_OUTPUT = 64 * 1024 * 1024;

/**
 * Runs `skopeo --insecure-policy <args>` and resolves with its stdout as raw bytes. Rejects
 * with a {@link SkopeoError} carrying stderr when it exits non-zero or times out.
 */
export function skopeoBytes(args: readonly string[], opts: SkopeoOptions = {}): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const fullArgs = ['--insecure-policy', ...args];
  return new Promise((resolve, reject) => {
    execFile(
      'skopeo',
      fullArgs,
      {
        encoding: 'buffer',
        maxBuffer: MAX_OUTPUT,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        env: { ...process.env, ...opts.env },
      },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve(stdout);
          return;
        }
        const errText = stderr.toString('utf8').trim();
        const code = typeof err.code === 'number' ? err.code : null;
        const why = err.killed
          ? `was killed after ${timeoutMs} ms`
          : code !== null
            ? `exited with code ${code}`
            : `could not run (${err.message})`;
        reject(new SkopeoError(`skopeo ${fullArgs.join(' ')} ${why}:\n${errText}`, fullArgs, code, errText));
      },
    );
  });
}

/**
 * Runs `skopeo --insecure-policy <args>` and resolves with its stdout as text. Rejects with
 * a {@link SkopeoError} carrying stderr when it exits non-zero or times out.
 */
export async function skopeo(args: readonly string[], opts: SkopeoOptions = {}): Promise<string> {
  return (await skopeoBytes(args, opts)).toString('utf8');
}

/** `docker://` + ref, unless ref already names a transport. */
export function dockerRef(ref: string): string {
  return ref.startsWith('docker://') ? ref : `docker://${ref}`;
}

function ociRef(layoutDir: string, layoutRef: string | undefined): string {
  return layoutRef === undefined ? `oci:${layoutDir}` : `oci:${layoutDir}:${layoutRef}`;
}

/** Options for {@link copyToRegistry}. */
export interface PushOptions extends SkopeoOptions {
  /** Manifest format to write: `oci`, or `v2s2` (Docker schema 2). Default: as in the layout. */
  format?: 'v2s2' | 'oci';
  /** Copy a whole index / manifest list and every image in it (`--all`). */
  all?: boolean;
  /** The image's ref name in the layout's index.json (default: its only entry). */
  layoutRef?: string;
  /** `user:password` for the registry (`--dest-creds`). */
  destCreds?: string;
}

/**
 * Pushes an image from an OCI layout directory to `ref` (`host:port/name:tag`) with
 * `skopeo copy`. Resolves with skopeo's stdout (its progress lines).
 */
export function copyToRegistry(layoutDir: string, ref: string, opts: PushOptions = {}): Promise<string> {
  const args = ['copy', '--dest-tls-verify=false'];
  if (opts.format !== undefined) args.push('--format', opts.format);
  if (opts.all === true) args.push('--all');
  if (opts.destCreds !== undefined) args.push('--dest-creds', opts.destCreds);
  args.push(ociRef(layoutDir, opts.layoutRef), dockerRef(ref));
  return skopeo(args, opts);
}

/** Options for {@link copyFromRegistry}. */
export interface PullOptions extends SkopeoOptions {
  /** Copy a whole index / manifest list and every image in it (`--all`). */
  all?: boolean;
  /** The ref name to give the image in the layout's index.json (default: none). */
  layoutRef?: string;
  /**
   * Fail rather than convert a manifest (`--preserve-digests`), so the layout holds exactly the
   * registry's bytes. Without it, skopeo 1.9 rewrites a Docker v2s2 manifest as OCI when the
   * destination is an OCI layout, which changes its digest.
   */
  preserveDigests?: boolean;
}

/**
 * Pulls `ref` into an OCI layout directory (created if missing) with `skopeo copy`. Resolves
 * with skopeo's stdout.
 */
export function copyFromRegistry(ref: string, destLayoutDir: string, opts: PullOptions = {}): Promise<string> {
  const args = ['copy', '--src-tls-verify=false'];
  if (opts.all === true) args.push('--all');
  if (opts.preserveDigests === true) args.push('--preserve-digests');
  args.push(dockerRef(ref), ociRef(destLayoutDir, opts.layoutRef));
  return skopeo(args, opts);
}

/** What `skopeo inspect` prints for an image (the fields the tests read). */
export interface InspectResult {
  Name: string;
  /** Digest of the manifest (or of the index, for a multi-platform image). */
  Digest: string;
  RepoTags: string[];
  Created?: string;
  Architecture: string;
  Os: string;
  /** Compressed layer digests. */
  Layers: string[];
  Labels?: Record<string, string> | null;
  Env?: string[] | null;
}

/** Options for {@link inspect}. */
export interface InspectOptions extends SkopeoOptions {
  /** Print the manifest (or index) bytes exactly as the registry served them. */
  raw?: boolean;
}

/** `skopeo inspect --raw`: resolves with the exact manifest or index bytes the registry served. */
export function inspect(ref: string, opts: InspectOptions & { raw: true }): Promise<Buffer>;
/**
 * `skopeo inspect`: resolves with the parsed summary (for an index, of the image matching this
 * machine's platform; `Digest` is the index's). Rejects when the image does not exist.
 */
export function inspect(ref: string, opts?: InspectOptions & { raw?: false }): Promise<InspectResult>;
export async function inspect(ref: string, opts: InspectOptions = {}): Promise<Buffer | InspectResult> {
  const args = ['inspect', '--tls-verify=false'];
  if (opts.raw === true) {
    args.push('--raw', dockerRef(ref));
    return skopeoBytes(args, opts);
  }
  args.push(dockerRef(ref));
  return JSON.parse(await skopeo(args, opts)) as InspectResult;
}

/** `skopeo list-tags` of a repository (`host:port/name`): resolves with its tags as listed. */
export async function listTags(repo: string, opts: SkopeoOptions = {}): Promise<string[]> {
  const out = JSON.parse(await skopeo(['list-tags', '--tls-verify=false', dockerRef(repo)], opts)) as {
    Tags?: string[] | null;
  };
  return out.Tags ?? [];
}

/**
 * `skopeo delete` of a manifest, by `name@digest` or `name:tag` (skopeo resolves a tag to its
 * digest and deletes the manifest by digest, which removes every tag pointing at it).
 */
export async function deleteImage(ref: string, opts: SkopeoOptions = {}): Promise<void> {
  await skopeo(['delete', '--tls-verify=false', dockerRef(ref)], opts);
}
