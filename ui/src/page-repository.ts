// A repository's page: its tags (sortable by push time or name) with digests, sizes, platforms, push and
// pull times, the pull commands, and deletes where allowed.
import { deleteManifest, deleteRepository, getJson, namePath, type TagInfo } from './api.js';
import { formatSize, h, replace, shortDigest, table, time } from './dom.js';
import { copyable, deleteButton, loadInto, type PageContext } from './ui.js';

/** Draws repository `name`. */
export function repositoryPage(ctx: PageContext, name: string): void {
  const sort = ctx.params.get('sort') === 'name' ? 'name' : 'pushed';
  const body = h('div', { id: 'tags' });
  const select = h(
    'select',
    { id: 'sort', onchange: (e: Event) => ctx.navigate(`#/r/${namePath(name)}?sort=${(e.target as HTMLSelectElement).value}`) },
    h('option', { value: 'pushed', selected: sort === 'pushed' }, 'push time, newest first'),
    h('option', { value: 'name', selected: sort === 'name' }, 'name'),
  );
  const header = h('div', { class: 'title-row' }, h('h1', {}, name));
  if (ctx.session.canDelete === true) {
    header.append(
      deleteButton(`Delete repository ${name}`, `Delete repository ${name}?`, `Every tag and manifest of ${name} will be deleted. This cannot be undone.`, () => deleteRepository(name), () => ctx.navigate('#/'), 'Delete repository'),
    );
  }
  replace(ctx.main, h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Repositories'), ' / ', name), header, h('div', { class: 'filter' }, h('label', { for: 'sort' }, 'Sort tags by'), select), body);
  void loadInto(body, async () => {
    const { value } = await getJson<{ tags: TagInfo[] }>(`repositories/${namePath(name)}/tags?n=1000&sort=${sort}`);
    return tagsView(ctx, name, value.tags);
  }, ctx.session);
}

function tagsView(ctx: PageContext, name: string, tags: TagInfo[]): Node {
  const wrap = h('div', {});
  const pull = h('section', { class: 'pull', 'aria-label': 'Pull commands' });
  // The commands name the first tag; choosing a tag's name puts that tag in them.
  const choose = (tag: string): void => replace(pull, copyable('docker pull', `docker pull ${location.host}/${name}:${tag}`), copyable('podman pull', `podman pull ${location.host}/${name}:${tag}`));
  if (tags[0] !== undefined) {
    choose(tags[0].name);
    wrap.append(pull);
  }
  const headers = ['Tag', 'Digest', 'Size', 'Platforms', 'Pushed', 'Last pull'];
  if (ctx.session.canDelete === true) headers.push('Actions');
  const rows = tags.map((t) => {
    const cells: Array<Node | string> = [
      h('button', { type: 'button', class: 'tag', title: `Pull commands for ${t.name}`, onclick: () => choose(t.name) }, t.name),
      h('a', { href: `#/r/${namePath(name)}/m/${t.digest}`, title: t.digest, class: 'digest' }, shortDigest(t.digest)),
      formatSize(t.size),
      t.platforms.length === 0 ? '—' : t.platforms.join(', '),
      time(t.pushedAt),
      time(t.pulledAt, 'never'),
    ];
    if (ctx.session.canDelete === true) {
      cells.push(
        deleteButton(`Delete tag ${t.name}`, `Delete tag ${name}:${t.name}?`, `The tag ${t.name} will be removed; the manifest ${t.digest} stays while other tags or references keep it.`, () => deleteManifest(name, t.name), () => ctx.refresh()),
      );
    }
    return cells;
  });
  wrap.append(table(`Tags of ${name}`, headers, rows, 'This repository has no tags.'));
  return wrap;
}
