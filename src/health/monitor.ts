import type { Logger } from '../log/logger.js';

/** One periodic health check. */
export interface HealthCheck {
  /** Distribution's names: `storagedriver_<driver>`, the file path, the URI, the TCP address. */
  readonly name: string;
  /** Resolves when healthy; rejects with an Error saying what is wrong. Should stop when `signal` aborts. */
  readonly run: (signal: AbortSignal) => Promise<void>;
  /** Time between the end of one run and the start of the next. */
  readonly intervalMs: number;
  /** Consecutive failures before the check reports failing (0 and 1: the first failure). */
  readonly threshold?: number;
  /** How long one run may take before it counts as a failure (its signal is aborted). Default: intervalMs. */
  readonly timeoutMs?: number;
}

/** The state of one check. */
export interface CheckStatus {
  /** False from `threshold` consecutive failures until the next success. */
  readonly ok: boolean;
  /** The last error, while the check has failed since its last success (also below the threshold). */
  readonly message?: string;
  /** When the check entered its current state (when the monitor was created, for a check that never changed). */
  readonly since: Date;
  readonly consecutiveFailures: number;
  /** When the check last finished a run; absent before its first run. */
  readonly checkedAt?: Date;
}

/** Every check's state; `healthy` when none is failing. */
export interface HealthStatus {
  readonly healthy: boolean;
  readonly checks: Readonly<Record<string, CheckStatus>>;
}

/** Whether this instance should get traffic: healthy and not shutting down. */
export interface Readiness extends HealthStatus {
  readonly ready: boolean;
  /** Why the instance is not ready, when it is draining. */
  readonly reason?: string;
}

/** Options of a HealthMonitor. */
export interface HealthMonitorOptions {
  /** State changes are logged (warn when a check starts failing, info when it recovers). */
  readonly logger?: Logger | undefined;
  readonly now?: () => Date;
}

interface CheckState {
  readonly check: HealthCheck;
  readonly threshold: number;
  readonly timeoutMs: number;
  ok: boolean;
  message: string | undefined;
  since: Date;
  failures: number;
  checkedAt: Date | undefined;
  /** A run whose promise has not settled yet (possibly past its timeout). */
  busy: boolean;
  /** The run being awaited right now, which runAll() joins rather than starting another. */
  current: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  controller: AbortController | undefined;
}

/**
 * Runs health checks on timers and keeps their state, for the debug server's /debug/health and
 * /debug/ready. Unlike Distribution, it never turns API requests into 503s: it only reports.
 *
 * Each check runs right away at start(), then `intervalMs` after each run ends, so a slow check
 * never overlaps itself (a run still going when the next is due counts as a failure). The timers
 * between runs are unref'd: the monitor never keeps an otherwise finished process alive.
 */
export class HealthMonitor {
  readonly #states: readonly CheckState[];
  readonly #logger: Logger | undefined;
  readonly #now: () => Date;
  #started = false;
  #stopped = false;
  #drainReason: string | undefined;

  /** Throws when two checks have the same name (Distribution panics: "Check already exists"). */
  constructor(checks: readonly HealthCheck[], options: HealthMonitorOptions = {}) {
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
    const names = new Set<string>();
    const created = this.#now();
    this.#states = checks.map((check) => {
      if (names.has(check.name)) throw new Error(`health: two checks are named ${JSON.stringify(check.name)}`);
      names.add(check.name);
      return {
        check,
        threshold: Math.max(1, Math.floor(check.threshold ?? 1)),
        timeoutMs: check.timeoutMs !== undefined && check.timeoutMs > 0 ? check.timeoutMs : check.intervalMs,
        ok: true,
        message: undefined,
        since: created,
        failures: 0,
        checkedAt: undefined,
        busy: false,
        current: undefined,
        timer: undefined,
        controller: undefined,
      };
    });
  }

  /** Runs every check now and then periodically. Resolves when each has run once; call once. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await Promise.all(this.#states.map((s) => this.#cycle(s)));
  }

  /** Stops the timers and aborts runs in progress. The state stays readable. */
  stop(): void {
    this.#stopped = true;
    for (const s of this.#states) {
      clearTimeout(s.timer);
      s.controller?.abort();
    }
  }

  /** Runs every check once now (outside the schedule) and resolves when all have finished. */
  async runAll(): Promise<void> {
    await Promise.all(this.#states.map((s) => this.#runOnce(s)));
  }

  /** Readiness fails from now on with `reason` (e.g. during a graceful shutdown), whatever the checks say. */
  drain(reason = 'shutting down'): void {
    this.#drainReason = reason;
  }

  /** The current state of every check. */
  status(): HealthStatus {
    const checks: Record<string, CheckStatus> = {};
    let healthy = true;
    for (const s of this.#states) {
      healthy &&= s.ok;
      checks[s.check.name] = {
        ok: s.ok,
        ...(s.message !== undefined ? { message: s.message } : {}),
        since: s.since,
        consecutiveFailures: s.failures,
        ...(s.checkedAt !== undefined ? { checkedAt: s.checkedAt } : {}),
      };
    }
    return { healthy, checks };
  }

  /** status() plus whether the instance should receive traffic. */
  readiness(): Readiness {
    const status = this.status();
    if (this.#drainReason !== undefined) return { ...status, ready: false, reason: this.#drainReason };
    return { ...status, ready: status.healthy };
  }

  /** Distribution's /debug/health body: failing checks by name with their error; `{}` when healthy. */
  failures(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const s of this.#states) if (!s.ok) out[s.check.name] = s.message ?? 'failing';
    return out;
  }

  async #cycle(s: CheckState): Promise<void> {
    await this.#runOnce(s);
    if (this.#stopped) return;
    s.timer = setTimeout(() => void this.#cycle(s), s.check.intervalMs);
    s.timer.unref();
  }

  #runOnce(s: CheckState): Promise<void> {
    s.current ??= this.#execute(s).finally(() => (s.current = undefined));
    return s.current;
  }

  async #execute(s: CheckState): Promise<void> {
    if (s.busy) {
      this.#record(s, new Error(`previous run still in progress after ${s.timeoutMs} ms`));
      return;
    }
    const controller = new AbortController();
    s.controller = controller;
    s.busy = true;
    const run = (async () => s.check.run(controller.signal))();
    // The run may outlive its timeout; it stays "busy" until it settles, and its outcome is ignored.
    run.then(
      () => (s.busy = false),
      () => (s.busy = false),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`timed out after ${s.timeoutMs} ms`));
      }, s.timeoutMs);
      // Not unref'd: whoever awaits this run (start(), runAll()) gets its answer within the timeout.
    });
    try {
      await Promise.race([run, timeout]);
      this.#record(s, undefined);
    } catch (err) {
      this.#record(s, err);
    } finally {
      clearTimeout(timer);
      if (s.controller === controller) s.controller = undefined;
    }
  }

  #record(s: CheckState, err: unknown): void {
    const now = this.#now();
    s.checkedAt = now;
    if (err === undefined) {
      if (!s.ok) {
        this.#logger?.info({ check: s.check.name, failures: s.failures }, 'health: check recovered');
        s.ok = true;
        s.since = now;
      }
      s.failures = 0;
      s.message = undefined;
      return;
    }
    s.failures++;
    s.message = describeFailure(err);
    if (s.ok && s.failures >= s.threshold) {
      s.ok = false;
      s.since = now;
      this.#logger?.warn({ check: s.check.name, failures: s.failures, err: s.message }, 'health: check failing');
    }
  }
}

/** What a check's failure says: an error's message, or the thrown value itself. */
function describeFailure(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
