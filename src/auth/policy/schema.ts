/**
 * The `auth.policies` configuration section (a Berth extension; see docs/security-policies.md), as a zod
 * schema to plug into config/schema.ts. Written with the field helpers of src/config-fields/fields.ts: a null
 * value means not set, a single scalar where a list is expected is a one-element list (handy from REGISTRY_*
 * variables), booleans accept YAML 1.1 words, enumerations are case-insensitive, and unknown keys are errors.
 * The output type is PolicyConfig, which compilePolicy takes.
 */
import { z } from 'zod';
import { booleanField, enumField, isPlainObject, listField, lowercase, toStringList, unsetIfEmpty, unsetIfNull } from '../../config-fields/fields.js';
import { globProblem } from './glob.js';
import type { PolicyConfig } from './policy.js';
import type { KeyDocs } from '../../config-fields/schema-tree.js';

const effectField = () => z.preprocess(lowercase, z.enum(['allow', 'deny']));

const nameList = () => z.preprocess(toStringList, z.array(z.string().min(1)).default(() => []));

const repositoryList = () =>
  z.preprocess(
    toStringList,
    z
      .array(
        z.string().superRefine((pattern, ctx) => {
          const problem = globProblem(pattern);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `invalid repository pattern ${JSON.stringify(pattern)}: ${problem}` });
        }),
      )
      .default(() => []),
  );

const actionList = () =>
  z.preprocess(
    (value) => {
      const list = toStringList(value);
      return Array.isArray(list) ? list.map(lowercase) : list;
    },
    z.array(z.enum(['pull', 'push', 'delete', '*'])).default(() => []),
  );

const ruleSchema = z
  .strictObject({
    description: z.preprocess(unsetIfNull, z.string().optional()),
    users: nameList(),
    groups: nameList(),
    anonymous: booleanField(false),
    authenticated: booleanField(false),
    repositories: repositoryList(),
    catalog: booleanField(false),
    actions: actionList(),
    effect: effectField(),
  })
  .check(
    z.superRefine((rule, ctx) => {
      if (!rule.anonymous && !rule.authenticated && rule.users.length === 0 && rule.groups.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'a rule must say whom it applies to: anonymous, authenticated, users or groups' });
      }
      if (rule.repositories.length === 0 && !rule.catalog) {
        ctx.addIssue({ code: 'custom', message: 'a rule must say what it applies to: repositories (with actions) or catalog: true' });
      }
      if (rule.repositories.length > 0 && rule.actions.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['actions'], message: 'required with repositories (pull, push, delete or *)' });
      }
      if (rule.repositories.length === 0 && rule.actions.length > 0) {
        ctx.addIssue({ code: 'custom', path: ['repositories'], message: 'actions apply to repositories: list the repository patterns they cover' });
      }
    }),
  );

/** A group name: what `groups:` keys and a rule's `groups` entries may be. */
const GROUP_NAME = /^[A-Za-z0-9._-]+$/;

/**
 * `auth.policies`: absent (or null) means no policies, in which case htpasswd behaves like Distribution
 * (see DISTRIBUTION_POLICY). Rules naming an undefined group are an error, reported at the rule's key path.
 */
export const policiesSchema = z
  .preprocess(
    unsetIfEmpty,
    z
      .strictObject({
        default: enumField(['allow', 'deny'], 'deny'),
        evaluation: enumField(['deny-overrides', 'first-match'], 'deny-overrides'),
        groups: z.preprocess(
          (value) => (isPlainObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toStringList(v) ?? []])) : unsetIfNull(value)),
          z.record(z.string().regex(GROUP_NAME, { message: 'a group name may contain only letters, digits, ".", "_" and "-"' }), z.array(z.string().min(1))).default(() => ({})),
        ),
        rules: listField(ruleSchema),
      })
      .check(
        z.superRefine((policies, ctx) => {
          const defined = new Set(Object.keys(policies.groups));
          policies.rules.forEach((rule, i) => {
            rule.groups.forEach((group, j) => {
              if (!defined.has(group)) {
                const known = defined.size === 0 ? 'none are defined under auth.policies.groups' : `defined: ${[...defined].join(', ')}`;
                ctx.addIssue({ code: 'custom', path: ['rules', i, 'groups', j], message: `unknown group ${JSON.stringify(group)} (${known})` });
              }
            });
          });
        }),
      )
      .optional(),
  );

/** The parsed `auth.policies` section (undefined when not configured). */
export type PoliciesConfig = z.output<typeof policiesSchema>;

// The schema's output must be what compilePolicy takes.
const _outputIsPolicyConfig = (value: NonNullable<PoliciesConfig>): PolicyConfig => value;
void _outputIsPolicyConfig;

/** What docs/configuration.md says of each key of `auth.policies` (relative key paths). */
export const policiesKeyDocs: KeyDocs = {
  default: { type: '`allow` \\| `deny`', default: '`deny`', text: 'What no matching rule means.' },
  evaluation: { type: '`deny-overrides` \\| `first-match`', default: '`deny-overrides`', text: 'How matching rules combine (see security-policies.md).' },
  groups: { type: 'map of lists', default: '`{}`', text: 'Named groups of htpasswd users.' },
  rules: { type: 'list', default: '`[]`', text: 'Rules: who (`users`, `groups`, `anonymous`, `authenticated`), what (`repositories` globs and `actions`, or `catalog`), and `effect`.' },
};
