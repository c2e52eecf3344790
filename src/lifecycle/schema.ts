/**
 * The `lifecycle` configuration section (a Berth extension; see docs/lifecycle.md), as a zod schema to plug
 * into config/schema.ts. Keys as issue #14 names them, so tooling can rely on them:
 *
 *   lifecycle:
 *     retention:
 *       interval: 1h                 # how often retention runs inside `serve` (at least 1m)
 *       dryrun: false                # plan and report, delete nothing
 *       rules:
 *         - repositories: ["ci/**"]  # repository globs, the syntax of auth.policies
 *           tags: ["**"]             # tag globs: which tags this rule may delete
 *           keep: { latest: 5, pushedwithin: 168h, pulledwithin: 720h, tags: ["release-*", "latest"] }
 *           untagged: { olderthan: 24h }
 *     immutable:
 *       - { repositories: ["prod/**"], tags: ["v*"] }
 *     quotas:
 *       - { repositories: ["team-a/**"], limit: 10GiB }
 *
 * Written with the field helpers of src/config-fields/: null means not set, a single scalar where a list
 * goes is a one-element list (handy from REGISTRY_* variables), durations come out in milliseconds and
 * sizes in bytes, unknown keys are errors naming their path. Absent (or null) the section is undefined:
 * no retention, no immutable tags, no quotas.
 */
import { z } from 'zod';
import { booleanField, durationField, goDuration, listField, optionalDuration, optionalInteger, optionalSection, section, toStringList } from '../config-fields/fields.js';
import { sizeField } from '../config-fields/size.js';
import type { KeyDocs } from '../config-fields/schema-tree.js';
import { globProblem } from '../auth/policy/glob.js';
import { tagGlobProblem } from './tag-glob.js';

/** A list of patterns, each checked by `problem`; a single string is a one-element list. */
function patternList(kind: 'repository' | 'tag', problem: (pattern: string) => string | undefined, options: { required: boolean }) {
  const item = z.string().superRefine((pattern, ctx) => {
    const found = problem(pattern);
    if (found !== undefined) ctx.addIssue({ code: 'custom', message: `invalid ${kind} pattern ${JSON.stringify(pattern)}: ${found}` });
  });
  const list = z.array(item);
  return z.preprocess(
    toStringList,
    options.required ? list.min(1, { message: `required: at least one ${kind} pattern` }) : list.default(() => []),
  );
}

const repositoryPatterns = () => patternList('repository', globProblem, { required: true });
const tagPatterns = (options: { required: boolean }) => patternList('tag', tagGlobProblem, options);

const keepSchema = section({
  latest: optionalInteger(0),
  pushedwithin: optionalDuration({ examples: '168h or 720h' }),
  pulledwithin: optionalDuration({ examples: '168h or 720h' }),
  tags: tagPatterns({ required: false }),
});

const untaggedSchema = optionalSection({
  olderthan: z.preprocess(goDuration('24h or 168h'), z.number({ error: (issue) => (issue.input === undefined ? 'required' : undefined) }).min(0, { message: 'must not be negative' })),
});

const retentionRuleSchema = z
  .strictObject({
    repositories: repositoryPatterns(),
    tags: tagPatterns({ required: false }),
    keep: keepSchema,
    untagged: untaggedSchema,
  })
  .check(
    z.superRefine((rule, ctx) => {
      if (rule.tags.length === 0 && rule.untagged === undefined) {
        ctx.addIssue({ code: 'custom', message: 'a rule must say what it may delete: tags (tag patterns) or untagged (olderthan)' });
      }
    }),
  );

const immutableRuleSchema = z.strictObject({
  repositories: repositoryPatterns(),
  tags: tagPatterns({ required: true }),
});

const quotaSchema = z.strictObject({
  repositories: repositoryPatterns(),
  limit: sizeField(),
});

/** The shortest retention interval accepted: a run walks every repository. */
export const MIN_RETENTION_INTERVAL_MS = 60_000;

/** `lifecycle`: absent, null or '' means no lifecycle rules at all. */
export const lifecycleSchema = optionalSection({
  retention: section({
    interval: durationField(3600_000, { bound: { min: MIN_RETENTION_INTERVAL_MS, minText: '1m' }, examples: '1h or 24h' }),
    dryrun: booleanField(false),
    rules: listField(retentionRuleSchema),
  }),
  immutable: listField(immutableRuleSchema),
  quotas: listField(quotaSchema),
});

/** The parsed `lifecycle` section (undefined when not configured). */
export type LifecycleConfig = z.output<typeof lifecycleSchema>;
/** The parsed `lifecycle.retention` section. */
export type RetentionConfig = NonNullable<LifecycleConfig>['retention'];
/** One parsed entry of `lifecycle.retention.rules`: durations in milliseconds. */
export type RetentionRule = z.output<typeof retentionRuleSchema>;
/** The keep clauses of a retention rule; an absent clause keeps nothing. */
export type KeepClauses = RetentionRule['keep'];
/** One parsed entry of `lifecycle.immutable`. */
export type ImmutableRule = z.output<typeof immutableRuleSchema>;
/** One parsed entry of `lifecycle.quotas`: `limit` in bytes. */
export type QuotaRule = z.output<typeof quotaSchema>;

/** What docs/configuration.md says of each key of `lifecycle` (relative key paths). */
export const lifecycleKeyDocs: KeyDocs = {
  'retention.interval': { type: 'duration ≥ 1m', default: '`1h`', text: 'How often retention runs inside `berth serve` (see [lifecycle.md](lifecycle.md)).' },
  'retention.dryrun': { type: 'boolean', default: '`false`', text: '`true`: every run plans and reports what it would keep and delete, and deletes nothing.' },
  'retention.rules': {
    type: 'list',
    default: '`[]`',
    text: 'Retention rules; the first whose `repositories` matches a repository applies to it. Each: `repositories` (globs, required), `tags` (tag globs this rule may delete), `keep` (`latest`, `pushedwithin`, `pulledwithin`, `tags`: a matched tag any clause keeps stays), `untagged.olderthan` (delete manifests no tag reaches, older than this). A rule needs `tags` or `untagged`.',
  },
  immutable: { type: 'list of `{repositories, tags}`', default: '`[]`', text: 'Tags that, once pushed, cannot be moved to another manifest or deleted (403 `DENIED` naming the rule); retention never deletes them.' },
  quotas: { type: 'list of `{repositories, limit}`', default: '`[]`', text: 'Limits on the deduplicated bytes of the blobs the matched repositories reach. `limit`: bytes, or a number with `B`, `KB`/`MB`/`GB`/`TB` (powers of 1000) or `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024), e.g. `10GiB`.' },
};
