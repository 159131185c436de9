import { ApiError, request } from '../api';
import { field, h } from '../dom';
import { CreateServiceDocument, ScriptTypesDocument } from '../graphql/generated/graphql';
import { navigate, type Screen } from '../nav';
import { STARTERS } from '../starters';

const NAME = /^[A-Za-z0-9_-]{1,40}$/;

/** Create in one page: the URL shown as the name is typed, types with why one is unavailable. */
export async function renderNewService(main: HTMLElement): Promise<Screen> {
  const { scriptTypes } = await request(ScriptTypesDocument, {});
  const name = h('input', { required: true, maxlength: 40, pattern: '[A-Za-z0-9_\\-]+', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'service-name' });
  const url = h('code', { 'data-testid': 'service-url' });
  const type = h(
    'select',
    { 'data-testid': 'service-type' },
    scriptTypes.map((t) => h('option', { value: t.name, disabled: !t.available }, `${t.label}${t.available ? (t.version ? ` (${t.version})` : '') : ` — unavailable: ${t.unavailableReason ?? 'not installed'}`}`)),
  );
  const typeNotes = h(
    'ul',
    { class: 'type-notes', 'data-testid': 'type-notes' },
    scriptTypes.map((t) => h('li', { class: t.available ? 'ok' : 'unavailable' }, h('strong', {}, t.name), ': ', t.available ? `available, ${t.engine}${t.version ? ` ${t.version}` : ''}` : `unavailable: ${t.unavailableReason ?? 'not installed'}`)),
  );
  const label = h('input', { maxlength: 80, 'data-testid': 'service-label' });
  const description = h('input', { maxlength: 255, 'data-testid': 'service-description' });
  const active = h('input', { type: 'checkbox', checked: true, 'data-testid': 'service-active' });
  const problem = h('p', { class: 'error', role: 'alert', 'data-testid': 'create-error' });
  const create = h('button', { type: 'submit', class: 'primary', 'data-testid': 'create' }, 'Create');
  const showUrl = () => {
    const text = name.value.trim().toLowerCase();
    url.textContent = `${location.origin}/api/v2/${text || '{name}'}`;
    name.setCustomValidity(text && !NAME.test(text) ? 'Letters, digits, "_" and "-"; at most 40.' : '');
  };
  name.addEventListener('input', showUrl);
  showUrl();
  const firstAvailable = scriptTypes.find((t) => t.available);
  if (firstAvailable) type.value = firstAvailable.name;

  const form = h(
    'form',
    { class: 'card form' },
    h('h1', {}, 'New service'),
    field('Name', name, h('span', {}, 'URL: ', url)),
    field('Type', type),
    typeNotes,
    field('Label', label),
    field('Description', description),
    h('label', { class: 'check' }, active, ' Active'),
    h('div', { class: 'actions' }, create, h('a', { href: '#/services' }, 'Cancel')),
    problem,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    create.disabled = true;
    problem.textContent = '';
    try {
      const created = await request(CreateServiceDocument, {
        input: {
          name: name.value.trim(),
          type: type.value,
          label: label.value.trim() || undefined,
          description: description.value.trim() || undefined,
          isActive: active.checked,
          content: STARTERS[type.value] ?? '',
        },
      });
      navigate(`services/${encodeURIComponent(created.createService.name)}`);
    } catch (error) {
      problem.textContent = error instanceof ApiError ? error.message : String(error);
      create.disabled = false;
    }
  });
  main.replaceChildren(form);
  name.focus();
  return {};
}
