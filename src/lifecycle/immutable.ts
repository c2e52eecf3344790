/**
 * Immutable tags (`lifecycle.immutable`), pure: which rule, if any, makes a tag immutable. Such a tag,
 * once pushed, is never moved to another manifest nor deleted: not by a manifest PUT, not by a DELETE,
 * not by retention.
 */
import type { ImmutableRule } from './schema.js';
import { repositoryMatcher, tagMatcher, type NameMatcher } from './patterns.js';

/** The immutable rules compiled once: `ruleFor(repository, tag)` is the index of the first rule covering the tag, or undefined. */
export interface ImmutableTags {
  ruleFor(repository: string, tag: string): number | undefined;
}

/** Compiles `lifecycle.immutable`; a rule covers a tag when one of its repository globs and one of its tag globs match. */
export function compileImmutableTags(rules: readonly ImmutableRule[]): ImmutableTags {
  const compiled: Array<{ repositories: NameMatcher; tags: NameMatcher }> = rules.map((rule) => ({ repositories: repositoryMatcher(rule.repositories), tags: tagMatcher(rule.tags) }));
  return {
    ruleFor(repository, tag) {
      const index = compiled.findIndex((rule) => rule.repositories(repository) && rule.tags(tag));
      return index === -1 ? undefined : index;
    },
  };
}
