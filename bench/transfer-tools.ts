/**
 * The external tools of the large-transfer figures: `dd` for the disk's write ceiling, and
 * `curl` as the pull client (skopeo is the bottleneck of its own pulls, for both registries).
 * The parsers are pure; the runners spawn the tools with LC_ALL=C and fail loudly.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';

/** What one tool run transferred. */
export interface Transfer {
  readonly bytes: number;
  /** Bytes per second. */
  readonly rate: number;
}

/**
 * Reads dd's summary line (`536870912 bytes (537 MB, 512 MiB) copied, 1.21 s, 444 MB/s`, in the
 * C locale); the rate is computed from the bytes and seconds, not dd's rounded figure. Throws
 * when there is no such line.
 */
export function parseDdOutput(stderr: string): Transfer {
  const m = /^(\d+) bytes .*copied, ([\d.eE+-]+) s,/m.exec(stderr);
  const bytes = Number(m?.[1]);
  const seconds = Number(m?.[2]);
  if (m === null || !Number.isFinite(bytes) || !(seconds > 0)) throw new Error(`no "N bytes ... copied, T s" line in dd output:\n${stderr}`);
  return { bytes, rate: bytes / seconds };
}

/** The fields curl's `-w` prints for a pull: status, bytes, bytes per second. */
export const CURL_WRITE_OUT = '%{http_code} %{size_download} %{speed_download}';

/** Reads the `-w` {@link CURL_WRITE_OUT} line; throws unless it is three numbers. */
export function parseCurlWriteOut(stdout: string): { status: number; bytes: number; rate: number } {
  const m = /^(\d{3}) (\d+) (\d+(?:[.,]\d+)?)\s*$/.exec(stdout.trim());
  if (m === null) throw new Error(`curl -w printed "${stdout.trim()}", not "status bytes speed"`);
  return { status: Number(m[1]), bytes: Number(m[2]), rate: Number((m[3] ?? '').replace(',', '.')) };
}

function run(command: string, args: readonly string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (err !== null) {
        const missing = 'code' in err && err.code === 'ENOENT';
        reject(new Error(missing ? `${command} not found` : `${command} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        return;
      }
      resolve({ stdout, stderr });
    });
  });
}

/**
 * Writes `mib` MiB of zeros to `file` with `dd bs=1M conv=fdatasync` (so the time includes
 * reaching the disk), removes the file, and resolves with dd's rate.
 */
export async function ddWrite(file: string, mib: number): Promise<Transfer> {
  try {
    const { stderr } = await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fdatasync'], 600_000);
    return parseDdOutput(stderr);
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * GETs `url` with curl into /dev/null and resolves with curl's own measure; throws unless the
 * status is 200 and `expectedBytes` arrived.
 */
export async function curlPull(url: string, expectedBytes: number): Promise<Transfer> {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', CURL_WRITE_OUT, url], 600_000);
  const r = parseCurlWriteOut(stdout);
  if (r.status !== 200 || r.bytes !== expectedBytes) throw new Error(`curl ${url}: status ${r.status}, ${r.bytes} bytes, expected 200 and ${expectedBytes}`);
  return { bytes: r.bytes, rate: r.rate };
}
