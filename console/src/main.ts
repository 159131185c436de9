import './style.css';
import { closeLive, onLiveState, onUnauthenticated } from './api';
import { h } from './dom';
import { session } from './session';
import { navigate, type Screen } from './nav';
import { renderSignIn } from './screens/sign-in';
import { renderServices } from './screens/services';
import { renderNewService } from './screens/new-service';
import { renderWorkspace } from './screens/workspace';
import { renderExecution } from './screens/execution';
import { renderTail } from './screens/tail';
import { renderEventScripts } from './screens/event-scripts';
import { renderAccess } from './screens/access';


type Render = (main: HTMLElement, ...params: string[]) => Screen | void | Promise<Screen | void>;

const ROUTES: [RegExp, Render, string][] = [
  [/^$|^services$/, renderServices, 'services'],
  [/^new$/, renderNewService, 'services'],
  [/^services\/([^/]+)$/, renderWorkspace, 'services'],
  [/^executions\/([^/]+)$/, renderExecution, 'tail'],
  [/^tail$/, renderTail, 'tail'],
  [/^events(?:\/(.+))?$/, renderEventScripts, 'events'],
  [/^access$/, renderAccess, 'access'],
];

const app = document.getElementById('app')!;
let current: Screen = {};
let currentHash = location.hash;

function shell(active: string): HTMLElement {
  const live = h('span', { class: 'live-state', 'data-testid': 'live-state', role: 'status', title: 'Live updates (GraphQL subscriptions over WebSocket)' });
  const stop = onLiveState((state) => {
    live.textContent = `live: ${state}`;
    live.dataset.state = state;
  });
  const link = (path: string, text: string, name: string) => h('a', { href: `#/${path}`, 'aria-current': active === name ? 'page' : null, 'data-testid': `nav-${name}` }, text);
  const main = h('main', { id: 'main', tabindex: '-1' });
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '#/services' }, 'Scriptgate'),
    h('nav', { 'aria-label': 'Console' }, link('services', 'Services', 'services'), link('tail', 'Live tail', 'tail'), link('events', 'Event scripts', 'events'), link('access', 'Access', 'access'), h('a', { href: '/graphql' }, 'GraphiQL')),
    live,
    h('button', { type: 'button', class: 'quiet', 'data-testid': 'sign-out', onclick: () => signOut() }, 'Sign out'),
  );
  app.replaceChildren(h('a', { class: 'skip', href: '#main', onclick: (event: Event) => (event.preventDefault(), main.focus()) }, 'Skip to content'), header, main);
  const dispose = current.dispose;
  current.dispose = () => {
    stop();
    dispose?.();
  };
  return main;
}

async function route(): Promise<void> {
  current.dispose?.();
  current = {};
  currentHash = location.hash;
  if (!session.key()) {
    renderSignIn(app, () => void route());
    return;
  }
  const path = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  for (const [pattern, render, name] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    const main = shell(name);
    const shellDispose = current.dispose;
    try {
      const screen = (await render(main, ...match.slice(1).filter((part) => part !== undefined))) ?? {};
      current = { unsaved: screen.unsaved, dispose: () => (screen.dispose?.(), shellDispose?.()) };
    } catch (error) {
      main.replaceChildren(h('p', { class: 'error', role: 'alert' }, (error as Error).message));
    }
    return;
  }
  navigate('services');
}

function signOut(): void {
  if (!confirmLeave()) return;
  current.dispose?.();
  current = {};
  session.signOut();
  closeLive();
  history.replaceState(null, '', location.pathname);
  void route();
}

function confirmLeave(): boolean {
  const reason = current.unsaved?.();
  return !reason || confirm(`${reason} Leave anyway?`);
}

// Leaving a screen with unsaved work asks first; a refused leave puts the address back.
window.addEventListener('hashchange', () => {
  if (location.hash === currentHash) return;
  if (!confirmLeave()) {
    history.replaceState(null, '', currentHash || location.pathname);
    return;
  }
  void route();
});
window.addEventListener('beforeunload', (event) => {
  if (current.unsaved?.()) event.preventDefault();
});
onUnauthenticated(() => {
  if (!session.key()) return;
  session.signOut();
  closeLive();
  void route();
});

void route();
