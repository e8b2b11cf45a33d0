import { ApiClient } from './api.js';
import { closeDismissableDialogs } from './dialog.js';
import { h } from './dom.js';
import { Session, browserSessionStorage } from './session.js';
import { auditView } from './views/audit.js';
import { diagnoseView } from './views/diagnose.js';
import { rotationView } from './views/rotation.js';
import { secretsView } from './views/secrets.js';
import { signInView } from './views/signin.js';
import { webhooksView } from './views/webhooks.js';
import type { Ctx } from './widgets.js';

interface Page {
  title: string;
  render(ctx: Ctx, container: HTMLElement): void;
}

const PAGES: Readonly<Record<string, Page>> = {
  secrets: { title: 'Secrets', render: secretsView },
  rotation: { title: 'Rotation', render: rotationView },
  webhooks: { title: 'Webhooks', render: webhooksView },
  diagnose: { title: 'Test a hash', render: diagnoseView },
  audit: { title: 'Audit log', render: auditView },
};

const root = document.getElementById('app')!;
const session = new Session(browserSessionStorage());

/** The page named by the hash (#/secrets); anything else is not a route (e.g. the skip link's #main). */
function pageFromHash(): string | null {
  const match = /^#\/([a-z]+)/.exec(location.hash);
  if (!match) return null;
  return match[1]! in PAGES ? match[1]! : 'secrets';
}

let shell: { main: HTMLElement; links: Map<string, HTMLAnchorElement>; ctx: Ctx; workspace: HTMLElement } | null = null;
let current: string | null = null;

function signOut(notice: string | null): void {
  session.signOut();
  closeDismissableDialogs();
  shell = null;
  current = null;
  document.title = 'Sign in · secure-mode console';
  signInView(root, notice, (token) => {
    session.signIn(token);
    if (pageFromHash() === null) history.replaceState(null, '', '#/secrets');
    show(true);
  });
}

function buildShell(token: string): NonNullable<typeof shell> {
  const notice = h('p', { class: 'announcer', role: 'status', 'aria-live': 'polite' });
  let clearNotice: number | undefined;
  const main = h('main', { id: 'main', tabindex: '-1' });
  const links = new Map<string, HTMLAnchorElement>();
  const nav = h(
    'nav',
    { 'aria-label': 'Console' },
    h(
      'ul',
      {},
      ...Object.entries(PAGES).map(([id, page]) => {
        const link = h('a', { href: `#/${id}` }, page.title);
        links.set(id, link);
        return h('li', {}, link);
      }),
    ),
  );
  const signOutButton = h('button', { type: 'button', class: 'button ghost signout' }, 'Sign out');
  signOutButton.addEventListener('click', () => signOut('You are signed out. The access token was removed from this tab.'));
  const ctx: Ctx = {
    api: new ApiClient(token, () => signOut('That access token is no longer accepted. Sign in again.')),
    nowS: () => Math.floor(Date.now() / 1000),
    announce(message) {
      notice.textContent = message;
      window.clearTimeout(clearNotice);
      clearNotice = window.setTimeout(() => {
        notice.textContent = '';
      }, 8000);
    },
  };
  const workspace = h('p', { class: 'workspace' });
  root.replaceChildren(
    h('header', { class: 'topbar' }, h('p', { class: 'brand' }, 'secure-mode'), workspace, nav, signOutButton),
    notice,
    main,
  );
  return { main, links, ctx, workspace };
}

/** The workspace's app_id, which the Messenger and every signing server need, from the Intercom-shaped GET /me. */
function showWorkspace(ctx: Ctx, into: HTMLElement): void {
  ctx.api.me().then(
    (me) => {
      const iv = me.app.identity_verification ? 'identity verification on' : 'identity verification off: no live secret';
      into.replaceChildren(
        h('span', { class: 'workspace-name' }, me.app.name),
        ' · app_id ',
        h('code', { class: 'app-id' }, me.app.id_code),
        h('span', { class: `iv iv-${me.app.identity_verification ? 'on' : 'off'}` }, ` · ${iv}`),
      );
    },
    () => {
      into.textContent = 'app_id unavailable';
    },
  );
}

function show(moveFocus: boolean): void {
  const token = session.token;
  if (token === null) {
    signOut(null);
    return;
  }
  const id = pageFromHash() ?? current ?? 'secrets';
  shell ??= buildShell(token);
  if (id === current) return;
  current = id;
  const page = PAGES[id]!;
  for (const [key, link] of shell.links) {
    if (key === id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${page.title} · secure-mode console`;
  // Each page renders into a fresh container, so a slow answer for a page already left lands nowhere.
  const container = h('div', { class: `page page-${id}` });
  shell.main.replaceChildren(container);
  page.render(shell.ctx, container);
  // Re-read on every page change: identity verification turns on and off as secrets come and go.
  showWorkspace(shell.ctx, shell.workspace);
  if (moveFocus) container.querySelector('h1')?.focus();
}

window.addEventListener('hashchange', () => {
  if (pageFromHash() !== null) show(true);
});

// The skip link targets <main> without touching the hash, which is the router's.
document.addEventListener('click', (event) => {
  const link = (event.target as Element | null)?.closest?.('a.skip-link');
  if (!link) return;
  event.preventDefault();
  document.getElementById('main')?.focus();
});

if (session.token === null) signOut(null);
else show(false);
