import { request } from '../api';
import { h, field } from '../dom';
import { ScriptTypesDocument } from '../graphql/generated/graphql';
import { session } from '../session';

/** The key form: checked against the server before it is kept (sessionStorage only). */
export function renderSignIn(app: HTMLElement, signedIn: () => void): void {
  const input = h('input', { type: 'password', id: 'key', autocomplete: 'off', spellcheck: 'false', required: true, 'data-testid': 'key-input' });
  const problem = h('p', { class: 'error', role: 'alert', 'data-testid': 'sign-in-error' });
  const button = h('button', { type: 'submit', 'data-testid': 'sign-in' }, 'Sign in');
  const form = h(
    'form',
    { class: 'sign-in card', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Scriptgate console'),
    h('p', {}, 'Sign in with the administrator key or an app key. It is kept for this browser tab only.'),
    field('API key', input),
    button,
    problem,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    button.disabled = true;
    problem.textContent = '';
    try {
      await request(ScriptTypesDocument, {}, key);
      session.signIn(key);
      signedIn();
    } catch (error) {
      problem.textContent = `Not signed in: ${(error as Error).message}`;
      button.disabled = false;
      input.select();
    }
  });
  app.replaceChildren(h('main', { class: 'center' }, form));
  input.focus();
}
