// Shared pieces of the pages: the page context, error boxes, the confirmation dialog, copy buttons.
import { ApiError, type SessionInfo } from './api.js';
import { h, replace } from './dom.js';

/** What a page is given: where to draw, who is logged in, and how to move on. */
export interface PageContext {
  readonly main: HTMLElement;
  readonly session: SessionInfo;
  readonly params: URLSearchParams;
  navigate(hash: string): void;
  /** Draws the page again (after a change). */
  refresh(): void;
}

/** An error as words in an alert box, with a way to log in when that would help. */
export function errorBox(err: unknown, session?: SessionInfo): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  const needsLogin = err instanceof ApiError && (err.status === 401 || err.status === 403) && session?.user === null && session.auth === 'htpasswd';
  return h('div', { class: 'error', role: 'alert' }, h('p', {}, message), needsLogin && h('p', {}, h('a', { href: '#/login' }, 'Log in')));
}

/** Shows a loading line, then what `load` draws, or the error it meets. */
export async function loadInto(target: HTMLElement, load: () => Promise<Node>, session?: SessionInfo): Promise<void> {
  replace(target, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  try {
    replace(target, await load());
  } catch (err) {
    replace(target, errorBox(err, session));
  }
}

/**
 * Asks before something goes, naming it; resolves true when confirmed. A modal <dialog>: focus moves to
 * it, Escape cancels, and the focus returns afterwards.
 */
export function confirmDelete(title: string, what: string): Promise<boolean> {
  return new Promise((resolve) => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' });
    const done = (ok: boolean): void => {
      dialog.close();
      dialog.remove();
      opener?.focus();
      resolve(ok);
    };
    dialog.addEventListener('cancel', () => done(false));
    const cancel = h('button', { type: 'button', onclick: () => done(false) }, 'Cancel');
    dialog.append(
      h('h2', { id: 'confirm-title' }, title),
      h('p', {}, what),
      h('div', { class: 'actions' }, cancel, h('button', { type: 'button', class: 'danger', onclick: () => done(true) }, 'Delete')),
    );
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** A read-only command line with a button that copies it. */
export function copyable(label: string, text: string): HTMLElement {
  const id = `cmd-${Math.random().toString(36).slice(2, 10)}`;
  const status = h('span', { class: 'copied', role: 'status' });
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = 'Copied';
    } catch {
      const input = document.getElementById(id);
      if (input instanceof HTMLInputElement) input.select();
      status.textContent = 'Press Ctrl+C to copy';
    }
    setTimeout(() => (status.textContent = ''), 2000);
  };
  return h(
    'div',
    { class: 'copyable' },
    h('label', { for: id }, label),
    h('input', { id, type: 'text', readonly: true, value: text, spellcheck: 'false' }),
    h('button', { type: 'button', 'aria-label': `Copy ${label}`, onclick: () => void copy() }, 'Copy'),
    status,
  );
}

/** A delete button that confirms, runs `remove`, then calls `after`; errors go to an alert beside it. */
export function deleteButton(label: string, title: string, what: string, remove: () => Promise<void>, after: () => void, text = 'Delete'): HTMLElement {
  const box = h('span', { class: 'action' });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      'aria-label': label,
      onclick: () => {
        void (async () => {
          if (!(await confirmDelete(title, what))) return;
          try {
            await remove();
            after();
          } catch (err) {
            box.append(errorBox(err));
          }
        })();
      },
    },
    text,
  );
  box.append(button);
  return box;
}
