/**
 * What a pushed manifest must satisfy beyond its format: Distribution's `validation` section.
 *
 * - Layer URLs (`urls` on a layer descriptor, mostly foreign / non-distributable layers): each must be
 *   an http or https URL without a fragment, always. While validation is enabled (the default), a URL must
 *   also match `allow` (when set) and must not match `deny` (when set); with neither set, no URL is
 *   allowed at all. These are Distribution's rules (`registry/handlers/app.go`).
 * - Children of an image index: `all` (the default) must be in the repository, `none` need not be, or
 *   only those whose platform (os and architecture) is listed (an empty list means all). Disabling validation disables this check
 *   too, as in Distribution 3.
 * The checks are pure; Repository.putManifest runs them.
 */
import { OciError } from '../oci/errors.js';
import type { Descriptor, ParsedManifest } from '../oci/manifest.js';

/** A platform named in `validation.manifests.indexes.platformlist`. */
export interface RulePlatform {
  readonly os: string;
  readonly architecture: string;
}

/** The compiled rules. */
export interface ManifestRules {
  /** A URL must match one of these, when set. */
  readonly allowUrls?: readonly RegExp[];
  /** A URL must match none of these, when set. */
  readonly denyUrls?: readonly RegExp[];
  /** Which children of an index must exist. */
  readonly indexChildren: 'all' | 'none' | readonly RulePlatform[];
}

/** The `validation` section as configured (after defaults). */
export interface ValidationSettings {
  readonly enabled: boolean;
  readonly disabled: boolean;
  readonly manifests: {
    readonly urls: { readonly allow: readonly string[]; readonly deny: readonly string[] };
    readonly indexes: { readonly platforms: 'all' | 'none' | 'list'; readonly platformlist: readonly RulePlatform[] };
  };
}

/**
 * A pattern of the configuration as a JavaScript RegExp. Go's RE2 syntax and JavaScript's agree on the
 * common forms; Go's leading flag group (`(?i)`, `(?s)`, `(?m)`, combined) becomes RegExp flags.
 * Throws SyntaxError for a pattern JavaScript cannot compile.
 */
export function compilePattern(pattern: string): RegExp {
  const flags = /^\(\?([ims]+)\)/.exec(pattern);
  if (flags === null) return new RegExp(pattern, 'u');
  return new RegExp(pattern.slice(flags[0].length), `${[...new Set(flags[1])].join('')}u`);
}

/** Distribution's defaults: validation enabled, no layer URL allowed, every index child required. */
export const DEFAULT_MANIFEST_RULES: ManifestRules = { allowUrls: [/^$/], indexChildren: 'all' };

/** Compiles the configured rules; throws SyntaxError for a pattern that does not compile (the schema checks first). */
export function compileManifestRules(settings: ValidationSettings): ManifestRules {
  const enabled = settings.enabled || !settings.disabled;
  if (!enabled) return { indexChildren: 'none' };
  const { urls, indexes } = settings.manifests;
  // As in Distribution, `list` with an empty platformlist checks every child.
  const indexChildren = indexes.platforms !== 'list' ? indexes.platforms : indexes.platformlist.length > 0 ? indexes.platformlist : 'all';
  if (urls.allow.length === 0 && urls.deny.length === 0) return { ...DEFAULT_MANIFEST_RULES, indexChildren };
  return {
    ...(urls.allow.length > 0 ? { allowUrls: urls.allow.map(compilePattern) } : {}),
    ...(urls.deny.length > 0 ? { denyUrls: urls.deny.map(compilePattern) } : {}),
    indexChildren,
  };
}

/** Why `url` is refused under `rules`, or undefined when it is acceptable. */
export function urlRefusal(url: string, rules: ManifestRules): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'only http and https URLs are allowed';
  if (url.includes('#')) return 'a URL must not have a fragment';
  if (rules.allowUrls !== undefined && !rules.allowUrls.some((re) => re.test(url))) return 'not allowed by validation.manifests.urls.allow';
  if (rules.denyUrls?.some((re) => re.test(url)) === true) return 'refused by validation.manifests.urls.deny';
  return undefined;
}

/** Throws MANIFEST_INVALID naming the layer and the URL when a layer URL is refused. */
export function checkLayerUrls(manifest: ParsedManifest, rules: ManifestRules): void {
  for (const layer of manifest.layers) {
    for (const url of layer.urls ?? []) {
      const reason = urlRefusal(url, rules);
      if (reason !== undefined) {
        throw new OciError('MANIFEST_INVALID', { message: `layer URL refused: ${reason}`, detail: { digest: layer.digest, url: url.slice(0, 500) } });
      }
    }
  }
}

/** Whether an index child must be in the repository before the index is accepted. */
export function childMustExist(child: Descriptor, rules: ManifestRules): boolean {
  if (rules.indexChildren === 'all') return true;
  if (rules.indexChildren === 'none') return false;
  const platform = child.platform;
  if (typeof platform !== 'object' || platform === null) return false;
  const { os, architecture } = platform as Record<string, unknown>;
  return rules.indexChildren.some((p) => p.os === os && p.architecture === architecture);
}
