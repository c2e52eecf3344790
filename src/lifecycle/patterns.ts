/**
 * Compiled pattern lists, pure: a list of repository globs (src/auth/policy/glob.ts) or tag globs
 * (./tag-glob.ts) as one predicate, for code that tests many names against the same rule.
 */
import { compileGlob } from '../auth/policy/glob.js';
import { compileTagGlob } from './tag-glob.js';

/** A predicate true for a name that matches any of the patterns (none: never). */
export type NameMatcher = (name: string) => boolean;

/** Repository globs as one predicate; throws a TypeError for an invalid pattern (configuration validation reports those first). */
export function repositoryMatcher(patterns: readonly string[]): NameMatcher {
  return anyOf(patterns.map(compileGlob));
}

/** Tag globs as one predicate; throws a TypeError for an invalid pattern. */
export function tagMatcher(patterns: readonly string[]): NameMatcher {
  return anyOf(patterns.map(compileTagGlob));
}

function anyOf(expressions: readonly RegExp[]): NameMatcher {
  return (name) => expressions.some((expression) => expression.test(name));
}
