/**
 * The retention planner, pure: for one repository, which tags and untagged manifests the rules of
 * `lifecycle.retention` delete, which they keep, and why. No I/O and no clock (`now` is an input);
 * applying the plan (through the same deletes as the API) and dry runs are the caller's: a dry run is
 * this same plan, not applied.
 *
 * The semantics (docs/lifecycle.md explains them with examples):
 *
 * 1. Which rule. The first rule whose `repositories` globs match the repository applies, alone; later
 *    rules are not consulted (a rule list reads top-down, like a firewall's). No rule: nothing is touched.
 * 2. Which tags it may delete. A tag its `tags` globs do not match is not touched (kept, `not-matched`).
 * 3. Which of those it keeps. A matched tag is kept when ANY keep clause keeps it:
 *    - `latest: N`: the N most recently pushed of the matched tags (ranked by push time, newest first;
 *      tags pushed at the same instant rank by name, the one sorting first by code unit first);
 *    - `pushedwithin: D`: pushed at most D before `now`;
 *    - `pulledwithin: D`: its manifest pulled at most D before `now` (a tag never pulled is not within);
 *    - `tags: [globs]`: its name matches one of them.
 *    Otherwise it is deleted, unless an `immutable` rule covers it: then it is kept (`immutable`).
 * 4. Untagged manifests (only with `untagged: {olderthan: D}`). The remaining tags (kept, untouched or
 *    immutable) reach their manifests, the children of a reached index, recursively, and the referrers
 *    (manifests with a `subject`) of a reached manifest. A manifest nothing reaches is deleted when
 *    - it was pushed more than D before `now` (a manifest whose push time is unknown never ages), or
 *    - it is a referrer whose subject is deleted: signatures and SBOMs go with their subject (a referrer
 *      one of whose tags remains is reached, so a keep clause keeping its tag keeps it), or
 *    - it is a child of deleted indexes only (an image index goes with its platform images),
 *    and in every case no surviving manifest lists it as a child: deleting it never breaks an index kept.
 *    Boundaries favour keeping: pushed exactly D ago is within D, and not older than D.
 *
 * Output lists are sorted (tags by name, manifests by digest), so equal inputs give equal plans.
 */
import type { Digest } from '../oci/digest.js';
import type { ImmutableRule, RetentionRule } from './schema.js';
import { compileImmutableTags } from './immutable.js';
import { repositoryMatcher, tagMatcher } from './patterns.js';

/** A tag of the repository, as storage knows it. */
export interface TagState {
  readonly tag: string;
  readonly digest: Digest;
  /** When the tag was last pushed (pointed at its current manifest). */
  readonly pushedAt: Date;
  /** When its manifest was last pulled, through this tag or by digest; absent: never (or not known). */
  readonly pulledAt?: Date | undefined;
}

/** A manifest of the repository, tagged or not. */
export interface ManifestState {
  readonly digest: Digest;
  readonly mediaType: string;
  /** When it was pushed; absent: not known, and then it is never deleted for its age. */
  readonly pushedAt?: Date | undefined;
  /** The manifests an image index (or manifest list) lists; [] for an image manifest. */
  readonly children: readonly Digest[];
  /** The manifest a referrer (signature, SBOM, attestation) refers to. */
  readonly subject?: Digest | undefined;
  readonly pulledAt?: Date | undefined;
}

/** What the planner takes: the rules, one repository's state, and the time to plan at. */
export interface RetentionInput {
  readonly repository: string;
  readonly rules: readonly RetentionRule[];
  readonly immutable: readonly ImmutableRule[];
  readonly tags: readonly TagState[];
  readonly manifests: readonly ManifestState[];
  readonly now: Date;
}

/** The keep clauses of a rule, in the order reasons list them. */
export const KEEP_CLAUSES = ['latest', 'pushedwithin', 'pulledwithin', 'tags'] as const;
export type KeepClause = (typeof KEEP_CLAUSES)[number];

/** Why a tag stays. `rule` and `immutable` are indexes into `lifecycle.retention.rules` and `lifecycle.immutable`. */
export type TagKeptReason =
  /** No rule's `repositories` match the repository. */
  | { readonly kind: 'no-rule' }
  /** The rule's `tags` do not match the tag: the rule does not touch it. */
  | { readonly kind: 'not-matched'; readonly rule: number }
  /** These keep clauses of the rule keep it (at least one). */
  | { readonly kind: 'kept'; readonly rule: number; readonly clauses: readonly KeepClause[] }
  /** No keep clause keeps it, but an immutable rule covers it. */
  | { readonly kind: 'immutable'; readonly rule: number; readonly immutable: number };

/** Why a tag goes: the rule's `tags` match it and none of its keep clauses keeps it. `rank`: its place by push time among the matched tags, 1 the newest. */
export interface TagDeletedReason {
  readonly kind: 'not-kept';
  readonly rule: number;
  readonly rank: number;
}

/** Why an untagged manifest goes. */
export type ManifestDeletedReason =
  /** Nothing reaches it and it was pushed more than `olderthan` ms before now. */
  | { readonly kind: 'untagged'; readonly rule: number; readonly olderthan: number; readonly pushedAt: Date }
  /** A referrer whose subject is deleted. */
  | { readonly kind: 'referrer'; readonly rule: number; readonly subject: Digest }
  /** A child of deleted indexes only; `index` is one of them (the first by digest). */
  | { readonly kind: 'index-child'; readonly rule: number; readonly index: Digest };

export interface TagDecision<R> {
  readonly tag: string;
  readonly digest: Digest;
  readonly reason: R;
}

export interface ManifestDecision {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly reason: ManifestDeletedReason;
}

/** The plan for one repository. Applying it deletes `deletedTags`, then `deletedManifests`. */
export interface RetentionPlan {
  readonly repository: string;
  /** The index of the rule that applies, or undefined when none does. */
  readonly rule: number | undefined;
  readonly keptTags: ReadonlyArray<TagDecision<TagKeptReason>>;
  readonly deletedTags: ReadonlyArray<TagDecision<TagDeletedReason>>;
  readonly deletedManifests: readonly ManifestDecision[];
}

/**
 * Plans retention for one repository (see the module comment). Throws a TypeError for input that
 * breaks the contract: a tag listed twice, or a time that is not a valid Date.
 */
export function planRetention(input: RetentionInput): RetentionPlan {
  checkInput(input);
  const { repository, tags } = input;
  const ruleIndex = input.rules.findIndex((r) => repositoryMatcher(r.repositories)(repository));
  const rule = ruleIndex === -1 ? undefined : input.rules[ruleIndex];
  if (rule === undefined) {
    return { repository, rule: undefined, keptTags: byTag(tags.map((t) => ({ tag: t.tag, digest: t.digest, reason: { kind: 'no-rule' } }))), deletedTags: [], deletedManifests: [] };
  }
  const now = input.now.getTime();
  const matches = tagMatcher(rule.tags);
  const keepByName = tagMatcher(rule.keep.tags);
  const immutable = compileImmutableTags(input.immutable);
  const matched = tags.filter((t) => matches(t.tag)).sort(newestFirst);
  const rank = new Map(matched.map((t, i) => [t.tag, i + 1]));
  const latest = rule.keep.latest ?? 0;
  const within = (at: Date | undefined, window: number | undefined): boolean => window !== undefined && at !== undefined && now - at.getTime() <= window;

  const kept: Array<TagDecision<TagKeptReason>> = [];
  const deleted: Array<TagDecision<TagDeletedReason>> = [];
  for (const t of tags) {
    const place = rank.get(t.tag);
    if (place === undefined) {
      kept.push({ tag: t.tag, digest: t.digest, reason: { kind: 'not-matched', rule: ruleIndex } });
      continue;
    }
    const keeping: Record<KeepClause, boolean> = {
      latest: place <= latest,
      pushedwithin: within(t.pushedAt, rule.keep.pushedwithin),
      pulledwithin: within(t.pulledAt, rule.keep.pulledwithin),
      tags: keepByName(t.tag),
    };
    const clauses = KEEP_CLAUSES.filter((c) => keeping[c]);
    const locked = immutable.ruleFor(repository, t.tag);
    if (clauses.length > 0) kept.push({ tag: t.tag, digest: t.digest, reason: { kind: 'kept', rule: ruleIndex, clauses } });
    else if (locked !== undefined) kept.push({ tag: t.tag, digest: t.digest, reason: { kind: 'immutable', rule: ruleIndex, immutable: locked } });
    else deleted.push({ tag: t.tag, digest: t.digest, reason: { kind: 'not-kept', rule: ruleIndex, rank: place } });
  }

  const deletedManifests =
    rule.untagged === undefined
      ? []
      : planUntagged(
          input.manifests,
          kept.map((t) => t.digest),
          { rule: ruleIndex, olderthan: rule.untagged.olderthan, now },
        );
  return { repository, rule: ruleIndex, keptTags: byTag(kept), deletedTags: byTag(deleted), deletedManifests };
}

/** The untagged manifests to delete, given the digests the remaining tags point at (step 4 of the module comment). */
function planUntagged(manifests: readonly ManifestState[], tagged: readonly Digest[], options: { rule: number; olderthan: number; now: number }): ManifestDecision[] {
  const sorted = [...manifests].sort((a, b) => compare(a.digest, b.digest));
  const known = new Map(sorted.map((m) => [m.digest, m]));
  const referrers = new Map<Digest, Digest[]>();
  const parents = new Map<Digest, Digest[]>();
  for (const m of sorted) {
    if (m.subject !== undefined) push(referrers, m.subject, m.digest);
    for (const child of new Set(m.children)) push(parents, child, m.digest);
  }

  // What the remaining tags reach: their manifests, index children, referrers of anything reached.
  const reached = new Set<Digest>();
  const queue = [...tagged];
  for (let d = queue.pop(); d !== undefined; d = queue.pop()) {
    if (reached.has(d)) continue;
    reached.add(d);
    queue.push(...(known.get(d)?.children ?? []), ...(referrers.get(d) ?? []));
  }

  // The least fixpoint of "deletable" (a reason below and every parent deleted): the predicate only
  // grows with the set, so passes until nothing changes find it. Reasons are given again from the final
  // set, so they do not depend on the order of the passes.
  const unreached = sorted.filter((m) => !reached.has(m.digest));
  const gone = new Set<Digest>();
  const deletion = (m: ManifestState): ManifestDeletedReason | undefined => {
    const of = parents.get(m.digest) ?? [];
    if (!of.every((p) => gone.has(p))) return undefined;
    const { rule, olderthan, now } = options;
    if (m.subject !== undefined && gone.has(m.subject)) return { kind: 'referrer', rule, subject: m.subject };
    if (of[0] !== undefined) return { kind: 'index-child', rule, index: of[0] };
    if (m.pushedAt !== undefined && now - m.pushedAt.getTime() > olderthan) return { kind: 'untagged', rule, olderthan, pushedAt: m.pushedAt };
    return undefined;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const m of unreached) {
      if (!gone.has(m.digest) && deletion(m) !== undefined) {
        gone.add(m.digest);
        changed = true;
      }
    }
  }
  return unreached.flatMap((m) => {
    const reason = gone.has(m.digest) ? deletion(m) : undefined;
    return reason === undefined ? [] : [{ digest: m.digest, mediaType: m.mediaType, reason }];
  });
}

/** One line for a log or a dry run: `ci/app:1.0 kept (rules[0] keep.latest, keep.tags)`. */
export function describeTagDecision(repository: string, decision: TagDecision<TagKeptReason | TagDeletedReason>): string {
  const { reason } = decision;
  const subject = `${repository}:${decision.tag}`;
  switch (reason.kind) {
    case 'no-rule':
      return `${subject} kept (no retention rule matches the repository)`;
    case 'not-matched':
      return `${subject} kept (rules[${reason.rule}].tags does not match it)`;
    case 'kept':
      return `${subject} kept (rules[${reason.rule}] ${reason.clauses.map((c) => `keep.${c}`).join(', ')})`;
    case 'immutable':
      return `${subject} kept (immutable[${reason.immutable}]; no keep clause of rules[${reason.rule}] keeps it)`;
    case 'not-kept':
      return `${subject} deleted (rules[${reason.rule}]: no keep clause keeps it; push rank ${reason.rank})`;
  }
}

/** One line for a log or a dry run: `ci/app@sha256:... deleted (rules[0] untagged.olderthan)`. */
export function describeManifestDecision(repository: string, decision: ManifestDecision): string {
  const { reason } = decision;
  const subject = `${repository}@${decision.digest}`;
  switch (reason.kind) {
    case 'untagged':
      return `${subject} deleted (rules[${reason.rule}] untagged.olderthan: untagged, pushed ${reason.pushedAt.toISOString()})`;
    case 'referrer':
      return `${subject} deleted (rules[${reason.rule}]: a referrer of ${reason.subject}, which is deleted)`;
    case 'index-child':
      return `${subject} deleted (rules[${reason.rule}]: a child of the deleted index ${reason.index})`;
  }
}

function checkInput(input: RetentionInput): void {
  const seen = new Set<string>();
  const valid = (at: Date | undefined): boolean => at === undefined || (at instanceof Date && !Number.isNaN(at.getTime()));
  if (!valid(input.now)) throw new TypeError('planRetention: now is not a valid Date');
  for (const t of input.tags) {
    if (seen.has(t.tag)) throw new TypeError(`planRetention: tag ${JSON.stringify(t.tag)} listed twice`);
    seen.add(t.tag);
    if (!valid(t.pushedAt) || !valid(t.pulledAt)) throw new TypeError(`planRetention: tag ${JSON.stringify(t.tag)} has an invalid time`);
  }
  for (const m of input.manifests) {
    if (!valid(m.pushedAt) || !valid(m.pulledAt)) throw new TypeError(`planRetention: manifest ${m.digest} has an invalid time`);
  }
}

function newestFirst(a: TagState, b: TagState): number {
  return b.pushedAt.getTime() - a.pushedAt.getTime() || compare(a.tag, b.tag);
}

function byTag<T extends { readonly tag: string }>(list: T[]): T[] {
  return list.sort((a, b) => compare(a.tag, b.tag));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
