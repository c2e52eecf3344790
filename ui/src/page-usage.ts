// The usage page: storage used per quota (against its limit) and per repository.
import { getJson, namePath, type RepositorySummary, type Usage } from './api.js';
import { formatSize, h, replace, table } from './dom.js';
import { loadInto, type PageContext } from './ui.js';

/** Draws the usage page. */
export function usagePage(ctx: PageContext): void {
  const body = h('div', { id: 'usage' });
  replace(ctx.main, h('h1', {}, 'Usage'), body);
  void loadInto(body, async () => {
    const [usage, repositories] = await Promise.all([getJson<Usage>('usage'), getJson<{ repositories: RepositorySummary[] }>('repositories?n=1000')]);
    return usageView(usage.value, repositories.value.repositories, repositories.next !== null);
  }, ctx.session);
}

function usageView(usage: Usage, repositories: RepositorySummary[], more: boolean): Node {
  const quotas = usage.quotas.map((q) => {
    const ratio = q.limit > 0 ? Math.min(1, q.used / q.limit) : 0;
    const meter = h('meter', { min: 0, max: q.limit, value: q.used, high: q.limit * 0.9, 'aria-label': `${q.repositories.join(', ')}: ${Math.round(ratio * 100)}% used` });
    return [q.repositories.join(', '), formatSize(q.used), formatSize(q.limit), h('span', {}, meter, ` ${Math.round(ratio * 100)}%`)];
  });
  const sorted = [...repositories].sort((a, b) => b.size - a.size || a.name.localeCompare(b.name));
  return h(
    'div',
    {},
    h('p', { class: 'total' }, 'Total stored: ', h('strong', {}, formatSize(usage.total))),
    h('section', { 'aria-labelledby': 'quotas-title' }, h('h2', { id: 'quotas-title' }, 'Quotas'), table('Quotas', ['Repositories', 'Used', 'Limit', 'Share'], quotas, 'No quotas are configured.')),
    h(
      'section',
      { 'aria-labelledby': 'per-repo-title' },
      h('h2', { id: 'per-repo-title' }, 'Per repository'),
      table('Storage per repository, largest first', ['Repository', 'Tags', 'Size'], sorted.map((r) => [h('a', { href: `#/r/${namePath(r.name)}` }, r.name), String(r.tags), formatSize(r.size)])),
      more ? h('p', { class: 'empty' }, 'Showing the first 1000 repositories.') : null,
    ),
  );
}
