/** Units and number formats of the figures' values and labels. */

/** Bytes per second as MB/s (10^6 bytes). */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

/** A byte count for labels: `512 MiB`, `64 KiB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** A count for labels with thousands separators: `10,000`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
