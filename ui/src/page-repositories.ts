// The repositories page: a page of repositories at a time, filtered by name as one types.
import { getJson, namePath, type RepositorySummary } from './api.js';
import { formatSize, h, replace, table } from './dom.js';
import { loadInto, type PageContext } from './ui.js';

const PAGE_SIZE = 50;

/** Draws the repository list into the context's main element. */
export function repositoriesPage(ctx: PageContext): void {
  const query = ctx.params.get('q') ?? '';
  const results = h('div', { id: 'results', 'aria-live': 'polite' });
  const input = h('input', { id: 'filter', type: 'search', value: query, placeholder: 'e.g. library/', autocomplete: 'off', spellcheck: 'false' });
  // Where each page starts (`last` of the page before it): Previous pops, Next pushes.
  const starts: string[] = [''];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let generation = 0;
  const show = (): void => {
    const mine = ++generation;
    const q = input.value.trim();
    const last = starts.at(-1) ?? '';
    void loadInto(results, async () => {
      const params = new URLSearchParams({ n: String(PAGE_SIZE) });
      if (q !== '') params.set('q', q);
      if (last !== '') params.set('last', last);
      const { value, next } = await getJson<{ repositories: RepositorySummary[] }>(`repositories?${params.toString()}`);
      if (mine !== generation) return results.firstChild ?? h('span');
      return listing(value.repositories, next, starts, show, q);
    }, ctx.session);
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      starts.length = 1;
      history.replaceState(null, '', input.value.trim() === '' ? '#/' : `#/?q=${encodeURIComponent(input.value.trim())}`);
      show();
    }, 150);
  });
  replace(
    ctx.main,
    h('h1', {}, 'Repositories'),
    h('div', { class: 'filter', role: 'search' }, h('label', { for: 'filter' }, 'Filter by name'), input),
    results,
  );
  show();
}

function listing(repositories: RepositorySummary[], next: string | null, starts: string[], show: () => void, q: string): Node {
  const rows = repositories.map((r) => [h('a', { href: `#/r/${namePath(r.name)}` }, r.name), String(r.tags), formatSize(r.size)]);
  const previous = h('button', { type: 'button', disabled: starts.length <= 1, onclick: () => (starts.pop(), show()) }, 'Previous');
  const following = h('button', { type: 'button', disabled: next === null, onclick: () => next !== null && (starts.push(next), show()) }, 'Next');
  const empty = q === '' ? 'No repositories yet (or none you may see).' : `No repository name contains “${q}”.`;
  const wrap = h('div', {}, table('Repositories', ['Name', 'Tags', 'Size'], rows, empty));
  if (starts.length > 1 || next !== null) wrap.append(h('nav', { class: 'pager', 'aria-label': 'Pages of repositories' }, previous, h('span', {}, `Page ${starts.length}`), following));
  return wrap;
}
