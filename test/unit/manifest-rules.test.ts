// validation.manifests: layer URLs and index children, with Distribution's semantics (table-driven, pure).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkLayerUrls, childMustExist, compileManifestRules, compilePattern, DEFAULT_MANIFEST_RULES, urlRefusal, type ValidationSettings } from '../../src/storage/manifest-rules.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { OciError } from '../../src/oci/errors.js';
import { parseConfig } from '../../src/config/load.js';

function settings(urls: { allow?: string[]; deny?: string[] } = {}, more: Partial<Pick<ValidationSettings, 'enabled' | 'disabled'>> & { platforms?: 'all' | 'none' | 'list'; platformlist?: Array<{ os: string; architecture: string }> } = {}): ValidationSettings {
  return {
    enabled: more.enabled ?? false,
    disabled: more.disabled ?? false,
    manifests: { urls: { allow: urls.allow ?? [], deny: urls.deny ?? [] }, indexes: { platforms: more.platforms ?? 'all', platformlist: more.platformlist ?? [] } },
  };
}

describe('validation.manifests.urls', () => {
  const example = settings({ allow: ['^https?://([^/]+\\.)*example\\.com/'], deny: ['^https?://www\\.example\\.com/'] });
  const cases: ReadonlyArray<readonly [string, ValidationSettings, string, string | undefined]> = [
    ['nothing configured: no URL is allowed', settings(), 'https://example.com/x', 'not allowed by validation.manifests.urls.allow'],
    ['allowed host', example, 'https://cdn.example.com/layer', undefined],
    ['allowed host over http', example, 'http://example.com/layer', undefined],
    ['denied host', example, 'https://www.example.com/layer', 'refused by validation.manifests.urls.deny'],
    ['a host outside allow', example, 'https://example.org/layer', 'not allowed by validation.manifests.urls.allow'],
    ['another scheme, even when allowed', settings({ allow: ['.'] }), 'ftp://example.com/layer', 'only http and https URLs are allowed'],
    ['a fragment', settings({ allow: ['.'] }), 'https://example.com/layer#part', 'a URL must not have a fragment'],
    ['not a URL', settings({ allow: ['.'] }), 'example.com/layer', 'not a URL'],
    ['only deny: the rest is allowed (as Distribution)', settings({ deny: ['evil'] }), 'https://fine.example/x', undefined],
    ['only deny: a match is refused', settings({ deny: ['evil'] }), 'https://evil.example/x', 'refused by validation.manifests.urls.deny'],
    ['a Go flag group', settings({ allow: ['(?i)^https://EXAMPLE\\.com/'] }), 'https://example.com/x', undefined],
    ['validation disabled: any http(s) URL', settings({}, { disabled: true }), 'https://anywhere.example/x', undefined],
    ['validation disabled: still no other scheme', settings({}, { disabled: true }), 'file:///etc/passwd', 'only http and https URLs are allowed'],
    ['deprecated enabled wins over disabled', settings({}, { disabled: true, enabled: true }), 'https://anywhere.example/x', 'not allowed by validation.manifests.urls.allow'],
  ];
  for (const [name, config, url, want] of cases) {
    it(name, () => assert.equal(urlRefusal(url, compileManifestRules(config)), want));
  }

  it('the built-in default is Distribution\'s: no URL allowed', () => {
    assert.equal(urlRefusal('https://example.com/x', DEFAULT_MANIFEST_RULES), 'not allowed by validation.manifests.urls.allow');
    assert.deepEqual(compileManifestRules(parseConfig({ version: '0.1', storage: { inmemory: {} } }).validation).allowUrls?.map(String), ['/^$/']);
  });

  it('checkLayerUrls refuses a manifest with MANIFEST_INVALID naming the layer and the URL', () => {
    const layer = { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: `sha256:${'c'.repeat(64)}`, size: 5, urls: ['https://ok.example.com/a', 'https://bad.example.org/b'] };
    const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 2 };
    const manifest = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [layer] })), 'application/vnd.oci.image.manifest.v1+json');
    assert.throws(
      () => checkLayerUrls(manifest, compileManifestRules(settings({ allow: ['\\.example\\.com/'] }))),
      (err: unknown) => err instanceof OciError && err.code === 'MANIFEST_INVALID' && JSON.stringify(err.detail) === JSON.stringify({ digest: layer.digest, url: 'https://bad.example.org/b' }),
    );
    checkLayerUrls(manifest, compileManifestRules(settings({ allow: ['\\.example\\.(com|org)/'] })));
  });

  it('compilePattern throws for a pattern JavaScript cannot compile', () => {
    assert.throws(() => compilePattern('^(a'), SyntaxError);
  });
});

describe('validation.manifests.indexes', () => {
  const child = (platform?: { os: string; architecture: string }) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'d'.repeat(64)}` as never, size: 1, ...(platform !== undefined ? { platform } : {}) });
  const amd64 = child({ os: 'linux', architecture: 'amd64' });
  const arm64 = child({ os: 'linux', architecture: 'arm64' });
  const cases: ReadonlyArray<readonly [string, ValidationSettings, ReturnType<typeof child>, boolean]> = [
    ['all (the default): every child', settings(), arm64, true],
    ['all: a child without a platform', settings(), child(), true],
    ['none: no child', settings({}, { platforms: 'none' }), amd64, false],
    ['list: a listed platform', settings({}, { platforms: 'list', platformlist: [{ os: 'linux', architecture: 'amd64' }] }), amd64, true],
    ['list: another platform', settings({}, { platforms: 'list', platformlist: [{ os: 'linux', architecture: 'amd64' }] }), arm64, false],
    ['list: a child without a platform', settings({}, { platforms: 'list', platformlist: [{ os: 'linux', architecture: 'amd64' }] }), child(), false],
    ['list, empty: every child (as Distribution)', settings({}, { platforms: 'list' }), arm64, true],
    ['validation disabled: no child (Distribution 3)', settings({}, { disabled: true }), amd64, false],
  ];
  for (const [name, config, descriptor, want] of cases) {
    it(name, () => assert.equal(childMustExist(descriptor, compileManifestRules(config)), want));
  }
});
