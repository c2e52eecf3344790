// The web UI's entry: the page frame (header, navigation, the session), the hash router and the login form.
// Routes: #/ (repositories, ?q=), #/r/<name> (?sort=), #/r/<name>/m/<digest>, #/usage, #/login.
import { ApiError, login, logout, session, setCsrf, type SessionInfo } from './api.js';
import { h, replace } from './dom.js';
import { manifestPage } from './page-manifest.js';
import { repositoriesPage } from './page-repositories.js';
import { repositoryPage } from './page-repository.js';
import { usagePage } from './page-usage.js';
import { errorBox, type PageContext } from './ui.js';

const main = document.getElementById('main') as HTMLElement;
const userArea = document.getElementById('user') as HTMLElement;

/** The route of a hash: which page, and its repository and digest. */
export function parseRoute(hash: string): { page: string; name?: string; digest?: string; params: URLSearchParams } {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = decodeURIComponent(q === -1 ? raw : raw.slice(0, q));
  const params = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  if (path === '' || path === 'repositories') return { page: 'repositories', params };
  if (path === 'usage' || path === 'login') return { page: path, params };
  const manifest = /^r\/(.+)\/m\/([a-z0-9]+:[a-zA-Z0-9=_-]+)$/.exec(path);
  if (manifest !== null) return { page: 'manifest', name: manifest[1] ?? '', digest: manifest[2] ?? '', params };
  if (path.startsWith('r/')) return { page: 'repository', name: path.slice(2), params };
  return { page: 'missing', params };
}

function drawUser(info: SessionInfo): void {
  if (info.user !== null) {
    replace(userArea, h('span', { class: 'who' }, 'Logged in as ', h('strong', {}, info.user)), h('button', { type: 'button', id: 'logout', onclick: () => void doLogout() }, 'Log out'));
  } else if (info.auth === 'htpasswd' || info.auth === 'token') {
    replace(userArea, h('span', { class: 'who' }, 'Anonymous'), h('a', { href: '#/login', class: 'button' }, 'Log in'));
  } else replace(userArea);
}

async function doLogout(): Promise<void> {
  try {
    await logout();
  } catch (err) {
    replace(main, errorBox(err));
    return;
  }
  location.hash = '#/';
  void route();
}

function loginPage(info: SessionInfo): void {
  const message = h('div', { id: 'login-message', 'aria-live': 'assertive' });
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Log in'),
    h('p', {}, 'Use your registry account: the same user name and password as for docker login.'),
    h('label', { for: 'login-user' }, 'User name'), user,
    h('label', { for: 'login-password' }, 'Password'), password,
    h('button', { type: 'submit' }, 'Log in'),
    message,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      try {
        const done = await login(user.value, password.value);
        setCsrf(done.csrf);
        location.hash = '#/';
      } catch (err) {
        replace(message, errorBox(err instanceof ApiError && err.status === 401 ? new Error('Wrong user name or password.') : err));
        password.focus();
      }
    })();
  });
  if (info.auth !== 'htpasswd') {
    const why = info.auth === 'none' ? 'This registry has no accounts: everyone sees everything.' : 'This registry uses token authentication, which the UI cannot log in with yet: you see what anonymous users may see.';
    replace(main, h('h1', {}, 'Log in'), h('p', {}, why));
    return;
  }
  replace(main, form);
  user.focus();
}

let drawing = 0;
let shown = location.hash;
let first = true;

/** Draws the page the hash names. */
async function route(): Promise<void> {
  // The skip link: focus the content, keep the page.
  if (location.hash === '#main') {
    history.replaceState(null, '', shown === '' ? '#/' : shown);
    main.focus();
    return;
  }
  shown = location.hash;
  const mine = ++drawing;
  const r = parseRoute(location.hash);
  let info: SessionInfo;
  try {
    info = await session(r.name);
  } catch (err) {
    replace(main, errorBox(err));
    return;
  }
  if (mine !== drawing) return;
  setCsrf(info.csrf);
  drawUser(info);
  for (const link of document.querySelectorAll('nav.site a')) link.toggleAttribute('aria-current', link.getAttribute('data-page') === r.page);
  const ctx: PageContext = { main, session: info, params: r.params, navigate: (hash) => (location.hash = hash), refresh: () => void route() };
  document.title = `${r.name ?? (r.page === 'usage' ? 'Usage' : r.page === 'login' ? 'Log in' : 'Repositories')} — Berth`;
  if (r.page === 'repositories') repositoriesPage(ctx);
  else if (r.page === 'repository' && r.name !== undefined) repositoryPage(ctx, r.name);
  else if (r.page === 'manifest' && r.name !== undefined && r.digest !== undefined) manifestPage(ctx, r.name, r.digest);
  else if (r.page === 'usage') usagePage(ctx);
  else if (r.page === 'login') loginPage(info);
  else replace(main, h('h1', {}, 'Not found'), h('p', {}, 'There is no such page. ', h('a', { href: '#/' }, 'See the repositories.')));
  // After a navigation, a screen reader starts at the new content; the first page leaves focus at the top (skip link first).
  if (!first && (document.activeElement === document.body || document.activeElement === null)) main.focus({ preventScroll: true });
  first = false;
}

window.addEventListener('hashchange', () => void route());
window.addEventListener('unhandledrejection', (e) => replace(main, errorBox(e.reason)));
void route();
