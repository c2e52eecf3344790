/**
 * Immutable tags (`lifecycle.immutable`), pure: which rule, if any, makes a tag immutable, and the
 * 403 DENIED a write that would break it gets. Such a tag, once pushed, is never moved to another
 * manifest nor deleted: not by a manifest PUT with another digest, not by a DELETE of the tag, of the
 * manifest it points at (which takes its tags along) or of its repository, and not by retention
 * (src/lifecycle/retention-plan.ts). Pushing the same digest to it again succeeds, and so does its first
 * push.
 */
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { ImmutableRule } from './schema.js';
import { repositoryMatcher, tagMatcher, type NameMatcher } from './patterns.js';

/** The immutable rules compiled once (compileImmutableTags). */
export interface ImmutableTags {
  /** The index of the first rule covering `repository:tag`, or undefined. */
  ruleFor(repository: string, tag: string): number | undefined;
  /** True when some rule's repository globs match `repository` (else none of its tags is immutable). */
  coversRepository(repository: string): boolean;
  /**
   * Checks a manifest PUT under `tag`: `current` is the digest the tag points at now (undefined when
   * it does not exist yet), `next` the pushed one. Throws the DENIED of immutableTagError when the tag
   * is immutable and would move; a first push, or the same digest again, passes.
   */
  checkPut(repository: string, tag: string, current: Digest | undefined, next: Digest): void;
  /**
   * Checks a delete that would remove `tags` of `repository`: the tag of a DELETE by tag, the tags
   * pointing at a manifest deleted by digest, every tag of a deleted repository. Throws the DENIED of
   * immutableTagError for the first immutable one (in the order given).
   */
  checkDelete(repository: string, tags: Iterable<string>): void;
}

/** Compiles `lifecycle.immutable`: a rule covers a tag when one of its repository globs and one of its tag globs match. */
export function compileImmutableTags(rules: readonly ImmutableRule[]): ImmutableTags {
  const compiled: Array<{ repositories: NameMatcher; tags: NameMatcher }> = rules.map((rule) => ({ repositories: repositoryMatcher(rule.repositories), tags: tagMatcher(rule.tags) }));
  const ruleFor = (repository: string, tag: string): number | undefined => {
    const index = compiled.findIndex((rule) => rule.repositories(repository) && rule.tags(tag));
    return index === -1 ? undefined : index;
  };
  const fail = (index: number, repository: string, tag: string, action: ImmutableAction, digest: Digest | undefined): never => {
    const rule = rules[index];
    if (rule === undefined) throw new RangeError(`no immutable rule ${index}`);
    throw immutableTagError({ index, rule, repository, tag, action, digest });
  };
  return {
    ruleFor,
    coversRepository: (repository) => compiled.some((rule) => rule.repositories(repository)),
    checkPut(repository, tag, current, next) {
      if (current === undefined || current === next) return;
      const index = ruleFor(repository, tag);
      if (index !== undefined) fail(index, repository, tag, 'move', current);
    },
    checkDelete(repository, tags) {
      for (const tag of tags) {
        const index = ruleFor(repository, tag);
        if (index !== undefined) fail(index, repository, tag, 'delete', undefined);
      }
    },
  };
}

/** What a refused write would have done to an immutable tag. */
export type ImmutableAction = 'move' | 'delete';

/**
 * The 403 DENIED for a write to an immutable tag, naming the rule:
 * `tag prod/app:v1 is immutable (lifecycle.immutable[0]: repositories prod/**, tags v*): it cannot be moved to another manifest`.
 * Its detail: `{repository, tag, rule: {index, repositories, tags}, digest?}` (digest: where the tag points, for a move).
 */
export function immutableTagError(options: { index: number; rule: ImmutableRule; repository: string; tag: string; action: ImmutableAction; digest?: Digest | undefined }): OciError {
  const { index, rule, repository, tag, action, digest } = options;
  const what = action === 'move' ? `it cannot be moved to another manifest${digest !== undefined ? ` (it points at ${digest})` : ''}` : 'it cannot be deleted';
  return new OciError('DENIED', {
    message: `tag ${repository}:${tag} is immutable (lifecycle.immutable[${index}]: repositories ${rule.repositories.join(', ')}, tags ${rule.tags.join(', ')}): ${what}`,
    detail: { repository, tag, rule: { index, repositories: rule.repositories, tags: rule.tags }, ...(digest !== undefined ? { digest } : {}) },
  });
}
