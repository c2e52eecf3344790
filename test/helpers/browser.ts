/**
 * Chromium for the UI tests: Debian's /usr/bin/chromium (installed by scripts/ensure-test-deps.sh) driven by
 * playwright-core, with the flags that keep it off the network (docs: /work/shared/notes, backing services).
 * A missing browser fails the test with the command to fix it: the UI tests never skip.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A launched browser and how to stop it (and remove its profile). */
export interface TestBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

/**
 * Launches Chromium; throws naming the fix when it is not installed. Each launch gets a fresh profile:
 * playwright-core passes its own new `--user-data-dir` (it refuses one in `args`) and removes it on close.
 */
export async function launchChromium(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run "bash scripts/ensure-test-deps.sh" (or apt-get install -y chromium)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 60_000 });
  return { browser, close: () => browser.close() };
}
