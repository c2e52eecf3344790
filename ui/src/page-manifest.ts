// A manifest's page: media type and size; for an image its layers and config (created, entrypoint, env,
// labels, history); for an index its platforms, each linking to its child; referrers grouped as a tree
// (signatures, SBOMs, attestations, other artifacts, then each artifact type).
import { deleteManifest, getJson, manifestInfo, namePath, type Descriptor, type ManifestInfo, type ManifestSummary } from './api.js';
import { facts, formatSize, h, replace, shortDigest, table, time } from './dom.js';
import { deleteButton, loadInto, type PageContext } from './ui.js';

/** Draws manifest `digest` of repository `name`. */
export function manifestPage(ctx: PageContext, name: string, digest: string): void {
  const body = h('div', { id: 'manifest' });
  const header = h('div', { class: 'title-row' }, h('h1', {}, h('span', { class: 'digest' }, digest)));
  if (ctx.session.canDelete === true) {
    header.append(
      deleteButton(`Delete manifest ${digest}`, `Delete manifest ${shortDigest(digest)}?`, `The manifest ${digest} of ${name} and every tag pointing at it will be deleted.`, () => deleteManifest(name, digest), () => ctx.navigate(`#/r/${namePath(name)}`), 'Delete manifest'),
    );
  }
  replace(ctx.main, h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Repositories'), ' / ', h('a', { href: `#/r/${namePath(name)}` }, name), ' / ', shortDigest(digest)), header, body);
  void loadInto(body, async () => manifestView(name, manifestInfo((await getJson<ManifestSummary>(`repositories/${namePath(name)}/manifests/${digest}`)).value)), ctx.session);
}

function manifestView(name: string, m: ManifestInfo): Node {
  const sections: Node[] = [facts([['Media type', m.mediaType], ['Size', formatSize(m.size)]])];
  if (m.children !== undefined && m.children.length > 0) sections.push(platforms(name, m.children));
  if (m.layers !== undefined && m.layers.length > 0) {
    const total = m.layers.reduce((sum, l) => sum + l.size, 0);
    sections.push(
      h('section', { 'aria-labelledby': 'layers-title' }, h('h2', { id: 'layers-title' }, `Layers (${m.layers.length}, ${formatSize(total)})`), table('Layers', ['#', 'Digest', 'Media type', 'Size'], m.layers.map((l, i) => [String(i + 1), h('span', { class: 'digest', title: l.digest }, shortDigest(l.digest)), l.mediaType, formatSize(l.size)]))),
    );
  }
  if (m.config !== undefined && m.config !== null) sections.push(configView(m.config));
  sections.push(referrers(name, m.referrers ?? {}));
  return h('div', {}, ...sections);
}

function platformText(d: Descriptor): string {
  const p = d.platform;
  if (p === undefined) return 'unknown platform';
  if (typeof p === 'string') return p;
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

function platforms(name: string, children: Descriptor[]): Node {
  const rows = children.map((c) => [h('a', { href: `#/r/${namePath(name)}/m/${c.digest}` }, platformText(c)), h('span', { class: 'digest', title: c.digest }, shortDigest(c.digest)), c.mediaType, formatSize(c.size)]);
  return h('section', { 'aria-labelledby': 'platforms-title' }, h('h2', { id: 'platforms-title' }, `Platforms (${children.length})`), table('Images of this index', ['Platform', 'Digest', 'Media type', 'Size'], rows));
}

function configView(config: NonNullable<ManifestInfo['config']>): Node {
  const list = (values: string[] | null | undefined): Node | string => (values === null || values === undefined || values.length === 0 ? '—' : h('code', {}, values.join(' ')));
  const env = config.env ?? [];
  const labels = Object.entries(config.labels ?? {});
  const history = config.history ?? [];
  return h(
    'section',
    { 'aria-labelledby': 'config-title' },
    h('h2', { id: 'config-title' }, 'Configuration'),
    facts([['Created', time(config.created)], ['Entrypoint', list(config.entrypoint)], ['Command', list(config.cmd)]]),
    h('h3', {}, 'Environment'),
    env.length === 0 ? h('p', { class: 'empty' }, 'No environment variables.') : h('ul', { class: 'plain' }, ...env.map((e) => h('li', {}, h('code', {}, e)))),
    h('h3', {}, 'Labels'),
    table('Labels', ['Label', 'Value'], labels.map(([k, v]) => [h('code', {}, k), v]), 'No labels.'),
    h('h3', {}, 'History'),
    table('History', ['Created', 'Step', 'Layer'], history.map((s) => [time(s.created), h('code', { class: 'wrap' }, s.created_by ?? s.comment ?? ''), s.empty_layer === true ? 'none' : 'yes']), 'No history.'),
  );
}

const GROUPS: ReadonlyArray<readonly [string, RegExp]> = [
  ['Signatures', /sig|signature|notary/i],
  ['SBOMs', /spdx|cyclonedx|sbom|syft/i],
  ['Attestations', /in-toto|intoto|attestation|provenance|slsa|vex|vuln/i],
];

/** The group of an artifact type: signatures, SBOMs, attestations, or other artifacts. */
export function groupOf(artifactType: string): string {
  return GROUPS.find(([, pattern]) => pattern.test(artifactType))?.[0] ?? 'Other artifacts';
}

function referrers(name: string, byType: Record<string, Descriptor[]>): Node {
  const groups = new Map<string, Array<[string, Descriptor[]]>>();
  for (const [type, list] of Object.entries(byType)) {
    const group = groupOf(type);
    groups.set(group, [...(groups.get(group) ?? []), [type, list]]);
  }
  const title = h('h2', { id: 'referrers-title' }, 'Referrers');
  if (groups.size === 0) return h('section', { 'aria-labelledby': 'referrers-title' }, title, h('p', { class: 'empty' }, 'Nothing refers to this manifest (no signatures, SBOMs or attestations).'));
  const order = ['Signatures', 'SBOMs', 'Attestations', 'Other artifacts'];
  const tree = h(
    'ul',
    { class: 'tree', id: 'referrers' },
    ...order.filter((g) => groups.has(g)).map((g) => {
      const types = groups.get(g) ?? [];
      const count = types.reduce((n, [, l]) => n + l.length, 0);
      return h('li', {}, h('details', { open: true }, h('summary', {}, `${g} (${count})`), h('ul', {}, ...types.map(([type, list]) => h('li', {}, h('span', { class: 'artifact-type' }, type), h('ul', {}, ...list.map((d) => referrerItem(name, d))))))));
    }),
  );
  return h('section', { 'aria-labelledby': 'referrers-title' }, title, tree);
}

function referrerItem(name: string, d: Descriptor): Node {
  const created = d.annotations?.['org.opencontainers.image.created'];
  return h('li', { class: 'referrer' }, h('a', { href: `#/r/${namePath(name)}/m/${d.digest}`, title: d.digest, class: 'digest' }, shortDigest(d.digest)), ` ${formatSize(d.size)}`, created !== undefined ? ' · ' : '', created !== undefined ? time(created) : '');
}
