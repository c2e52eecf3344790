/**
 * Access policies (beyond Distribution, whose htpasswd mode lets every user do everything): who may pull,
 * push and delete which repositories, and who may list the catalog. Pure: a policy is compiled once from
 * the `auth.policies` configuration, then evaluate() answers allow or deny for one subject and one access.
 *
 * Evaluation (docs/security-policies.md has the long form). The rules that match are those whose subject
 * selectors match the requester (`anonymous`, `authenticated`, `users`, `groups`: any one suffices) and
 * whose resource matches the access (a repository glob plus the action, or `catalog: true` for the
 * registry catalog). Then, with `evaluation: deny-overrides` (the default): any matching deny rule denies;
 * otherwise any matching allow rule allows; otherwise `default` decides. With `evaluation: first-match`:
 * the first matching rule in file order decides; otherwise `default`. An access to every action (`*`) of a
 * repository is allowed only when pull, push and delete each are.
 */
import type { Access } from '../access.js';
import { compileGlob } from './glob.js';

/** What a rule does when it matches. */
export type Effect = 'allow' | 'deny';
/** A repository action a rule can name; `*` is all three. */
export type PolicyAction = 'pull' | 'push' | 'delete' | '*';
/** How matching rules combine. */
export type EvaluationOrder = 'deny-overrides' | 'first-match';

/** One rule of `auth.policies.rules`, as configured (see policy/schema.ts). */
export interface PolicyRuleConfig {
  /** Free text, shown in logs when the rule decides. */
  readonly description?: string | undefined;
  readonly users: readonly string[];
  readonly groups: readonly string[];
  /** Matches requests without (valid) credentials. */
  readonly anonymous: boolean;
  /** Matches every user who logged in successfully. */
  readonly authenticated: boolean;
  /** Repository globs (see glob.ts). */
  readonly repositories: readonly string[];
  /** Matches the registry catalog (`registry:catalog:*`, GET /v2/_catalog). */
  readonly catalog: boolean;
  /** The repository actions the rule covers. */
  readonly actions: readonly PolicyAction[];
  readonly effect: Effect;
}

/** The `auth.policies` section, as configured. */
export interface PolicyConfig {
  readonly default: Effect;
  readonly evaluation: EvaluationOrder;
  /** Group name → its users. */
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly rules: readonly PolicyRuleConfig[];
}

/** Who is asking: a user who logged in, or nobody (anonymous). */
export interface Subject {
  /** The authenticated user; undefined for an anonymous request. */
  readonly user?: string | undefined;
}

/** The outcome for one access, with the rule that decided it (absent when the default did). */
export interface Decision {
  readonly effect: Effect;
  /** Index of the deciding rule in `rules`. */
  readonly rule?: number;
  /** The deciding rule's description, or a phrase naming the rule or the default. */
  readonly reason: string;
}

interface CompiledRule {
  readonly index: number;
  readonly config: PolicyRuleConfig;
  readonly users: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
  readonly repositories: readonly RegExp[];
  readonly actions: ReadonlySet<PolicyAction>;
}

/** A compiled policy: build with compilePolicy, query with evaluate or decide. */
export interface Policy {
  readonly config: PolicyConfig;
  readonly rules: readonly CompiledRule[];
  /** User → the groups they belong to. */
  readonly memberships: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The policy used when `auth.policies` is not configured: Distribution's htpasswd behaviour. Every
 * authenticated user may do everything, including listing the catalog; anonymous requests nothing.
 */
export const DISTRIBUTION_POLICY: PolicyConfig = Object.freeze<PolicyConfig>({
  default: 'deny',
  evaluation: 'deny-overrides',
  groups: {},
  rules: [
    {
      description: 'any authenticated user may do everything (Distribution htpasswd behaviour)',
      users: [],
      groups: [],
      anonymous: false,
      authenticated: true,
      repositories: ['**'],
      catalog: true,
      actions: ['*'],
      effect: 'allow',
    },
  ],
});

/** Compiles a policy configuration. Throws a TypeError for an invalid repository glob (the schema reports those first). */
export function compilePolicy(config: PolicyConfig): Policy {
  const memberships = new Map<string, Set<string>>();
  for (const [group, users] of Object.entries(config.groups)) {
    for (const user of users) {
      let set = memberships.get(user);
      if (set === undefined) memberships.set(user, (set = new Set()));
      set.add(group);
    }
  }
  const rules = config.rules.map(
    (rule, index): CompiledRule => ({
      index,
      config: rule,
      users: new Set(rule.users),
      groups: new Set(rule.groups),
      repositories: rule.repositories.map(compileGlob),
      actions: new Set(rule.actions),
    }),
  );
  return { config, rules, memberships };
}

/** allow or deny: may `subject` perform `access` under `policy`? See the module comment for the order. */
export function evaluate(policy: Policy, subject: Subject, access: Access): Effect {
  return decide(policy, subject, access).effect;
}

/** Like evaluate, and says which rule (or the default) decided. */
export function decide(policy: Policy, subject: Subject, access: Access): Decision {
  if (access.type === 'repository' && access.action === '*') {
    // Every action: allowed only when each one is; the first refusal explains.
    let last: Decision | undefined;
    for (const action of ['pull', 'push', 'delete'] as const) {
      last = decideOne(policy, subject, { ...access, action });
      if (last.effect === 'deny') return last;
    }
    return last as Decision;
  }
  return decideOne(policy, subject, access);
}

function decideOne(policy: Policy, subject: Subject, access: Access): Decision {
  const groups = subject.user === undefined ? undefined : policy.memberships.get(subject.user);
  let firstAllow: CompiledRule | undefined;
  for (const rule of policy.rules) {
    if (!subjectMatches(rule, subject, groups) || !resourceMatches(rule, access)) continue;
    if (policy.config.evaluation === 'first-match' || rule.config.effect === 'deny') return fromRule(rule);
    firstAllow ??= rule;
  }
  if (firstAllow !== undefined) return fromRule(firstAllow);
  return { effect: policy.config.default, reason: `no rule matched: default ${policy.config.default}` };
}

function fromRule(rule: CompiledRule): Decision {
  const reason = rule.config.description ?? `rule ${rule.index + 1} (${rule.config.effect})`;
  return { effect: rule.config.effect, rule: rule.index, reason };
}

function subjectMatches(rule: CompiledRule, subject: Subject, groups: ReadonlySet<string> | undefined): boolean {
  if (subject.user === undefined) return rule.config.anonymous;
  if (rule.config.authenticated || rule.users.has(subject.user)) return true;
  if (groups === undefined) return false;
  for (const g of groups) if (rule.groups.has(g)) return true;
  return false;
}

function resourceMatches(rule: CompiledRule, access: Access): boolean {
  if (access.type === 'registry') return access.name === 'catalog' && rule.config.catalog;
  if (!rule.actions.has('*') && !rule.actions.has(access.action)) return false;
  return rule.repositories.some((re) => re.test(access.name));
}
