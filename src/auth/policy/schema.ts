/**
 * The `auth.policies` configuration section (a Berth extension; see docs/security-policies.md), as a zod
 * schema to plug into config/schema.ts. It follows that file's conventions: a null value means not set, a
 * single scalar where a list is expected is a one-element list (handy from REGISTRY_* variables), booleans
 * accept YAML 1.1 words, enumerations are case-insensitive, and unknown keys are errors. The output type is
 * PolicyConfig, which compilePolicy takes.
 */
import { z } from 'zod';
import { globProblem } from './glob.js';
import type { PolicyConfig } from './policy.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unsetIfNull(value: unknown): unknown {
  return value === null ? undefined : value;
}

function toStringList(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  if (Array.isArray(value)) return (value as unknown[]).map((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v));
  return value;
}

const YAML11_BOOLEANS: Readonly<Record<string, boolean>> = Object.fromEntries([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'].map((w) => [w, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE'].map((w) => [w, false] as const),
]);

function booleanField() {
  return z.preprocess((value) => {
    if (typeof value === 'string') return Object.hasOwn(YAML11_BOOLEANS, value) ? YAML11_BOOLEANS[value] : value;
    return unsetIfNull(value);
  }, z.boolean().default(false));
}

function lowercase(value: unknown): unknown {
  if (value === null || value === '') return undefined;
  return typeof value === 'string' ? value.toLowerCase() : value;
}

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
    anonymous: booleanField(),
    authenticated: booleanField(),
    repositories: repositoryList(),
    catalog: booleanField(),
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
    (value) => (value === null || value === '' ? undefined : value),
    z
      .strictObject({
        default: z.preprocess(lowercase, z.enum(['allow', 'deny']).default('deny')),
        evaluation: z.preprocess(lowercase, z.enum(['deny-overrides', 'first-match']).default('deny-overrides')),
        groups: z.preprocess(
          (value) => (isPlainObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toStringList(v) ?? []])) : unsetIfNull(value)),
          z.record(z.string().regex(GROUP_NAME, { message: 'a group name may contain only letters, digits, ".", "_" and "-"' }), z.array(z.string().min(1))).default(() => ({})),
        ),
        rules: z.preprocess(unsetIfNull, z.array(ruleSchema).default(() => [])),
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
