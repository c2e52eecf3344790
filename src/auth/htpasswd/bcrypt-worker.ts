/**
 * The body of a bcrypt worker thread (see bcrypt-pool.ts): answers `{id, password, hash}` with
 * `{id, ok}`. A hash bcryptjs cannot use answers false.
 */
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

interface Job {
  readonly id: number;
  readonly password: string;
  readonly hash: string;
}

parentPort?.on('message', (job: Job) => {
  let ok: boolean;
  try {
    ok = bcrypt.compareSync(job.password, job.hash);
  } catch {
    ok = false;
  }
  parentPort?.postMessage({ id: job.id, ok });
});
