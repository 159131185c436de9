import { request } from '../api';
import { field, h } from '../dom';
import { AccessDocument, CreateAppDocument, CreateRoleDocument, DeleteAppDocument, RotateAppKeyDocument, ServiceListDocument, UpdateRoleDocument, type RoleFieldsFragment } from '../graphql/generated/graphql';
import type { Screen } from '../nav';

const VERBS: [string, number][] = [['GET', 1], ['POST', 2], ['PUT', 4], ['PATCH', 8], ['DELETE', 16]];
/** The grid edits grants on whole services (component "*"); other grants are kept as they are. */
const GRID_COMPONENT = '*';

/** Roles with a verb grid per service; apps with key creation, the key shown once. */
export async function renderAccess(main: HTMLElement): Promise<Screen> {
  const [{ roles, apps }, services] = await Promise.all([request(AccessDocument, {}), request(ServiceListDocument, { first: 200 })]);
  const serviceNames: (string | null)[] = [null, 'system', ...services.services.edges.map(({ node }) => node.name)];
  const notice = h('p', { class: 'notice', role: 'status', 'data-testid': 'access-notice' });
  const reload = async () => {
    const fresh = await renderAccess(main);
    return fresh;
  };

  const roleCard = (role: RoleFieldsFragment) => {
    const boxes = new Map<string, HTMLInputElement>();
    const rows = serviceNames.map((service) => {
      const grant = role.access.find((a) => a.service === service && a.component === GRID_COMPONENT);
      return h('tr', {},
        h('th', { scope: 'row' }, service ?? 'every service'),
        VERBS.map(([verb, bit]) => {
          const box = h('input', { type: 'checkbox', checked: Boolean(grant && grant.verbMask & bit), 'aria-label': `${verb} on ${service ?? 'every service'}` });
          boxes.set(`${service}|${bit}`, box);
          return h('td', {}, box);
        }),
      );
    });
    const save = async () => {
      const kept = role.access.filter((a) => a.component !== GRID_COMPONENT).map((a) => ({ service: a.service, component: a.component, verbMask: a.verbMask, requestorMask: a.requestorMask }));
      const grid = serviceNames.flatMap((service) => {
        const mask = VERBS.reduce((sum, [, bit]) => sum + (boxes.get(`${service}|${bit}`)!.checked ? bit : 0), 0);
        const old = role.access.find((a) => a.service === service && a.component === GRID_COMPONENT);
        return mask ? [{ service, component: GRID_COMPONENT, verbMask: mask, requestorMask: old?.requestorMask ?? 1 }] : [];
      });
      try {
        await request(UpdateRoleDocument, { name: role.name, input: { access: [...kept, ...grid] } });
        notice.textContent = `Saved the role ${role.name}.`;
      } catch (error) {
        notice.textContent = `Not saved: ${(error as Error).message}`;
      }
    };
    return h('details', { class: 'card', open: true, 'data-testid': `role-${role.name}` },
      h('summary', {}, h('strong', {}, role.name), ` ${role.description}`, role.isActive ? '' : ' (inactive)'),
      h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, h('th', {}, 'Service (all resources)'), VERBS.map(([verb]) => h('th', { scope: 'col' }, verb)))), h('tbody', {}, rows)),
      role.access.some((a) => a.component !== GRID_COMPONENT) ? h('p', { class: 'muted' }, `Also ${role.access.filter((a) => a.component !== GRID_COMPONENT).length} grant(s) on single components, kept as they are.`) : null,
      h('button', { type: 'button', onclick: () => void save() }, `Save ${role.name}`),
    );
  };

  const roleName = h('input', { required: true, maxlength: 64, 'data-testid': 'role-name' });
  const newRole = h('form', { class: 'row' }, field('New role', roleName), h('button', { type: 'submit', 'data-testid': 'create-role' }, 'Create role'));
  newRole.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await request(CreateRoleDocument, { input: { name: roleName.value.trim() } });
      await reload();
    } catch (error) {
      notice.textContent = (error as Error).message;
    }
  });

  const keyShown = h('div', { class: 'key-once', 'data-testid': 'app-key-box', role: 'status' });
  const showKey = (app: string, key: string) =>
    keyShown.replaceChildren(h('p', {}, `The key of ${app}, shown this once: copy it now.`), h('code', { 'data-testid': 'app-key' }, key));
  const appName = h('input', { required: true, maxlength: 64, 'data-testid': 'app-name' });
  const appRole = h('select', { 'data-testid': 'app-role' }, roles.map((r) => h('option', { value: r.name }, r.name)));
  const newApp = h('form', { class: 'row' }, field('New app', appName), field('Role', appRole), h('button', { type: 'submit', 'data-testid': 'create-app', disabled: !roles.length }, 'Create app'));
  newApp.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const { createApp } = await request(CreateAppDocument, { input: { name: appName.value.trim(), role: appRole.value } });
      await reload();
      showKeyAfterReload(createApp.app.name, createApp.apiKey);
    } catch (error) {
      notice.textContent = (error as Error).message;
    }
  });
  const appRows = apps.map((app) =>
    h('li', { 'data-testid': `app-${app.name}` },
      h('strong', {}, app.name), ` role ${app.role.name} · key ${app.apiKeyPrefix}… `, app.isActive ? '' : '(inactive) ',
      h('button', { type: 'button', class: 'quiet', onclick: async () => {
        if (!confirm(`A new key for ${app.name}? The old one stops working at once.`)) return;
        const { rotateAppKey } = await request(RotateAppKeyDocument, { name: app.name });
        showKey(rotateAppKey.app.name, rotateAppKey.apiKey);
      } }, 'New key'),
      h('button', { type: 'button', class: 'quiet danger', onclick: async () => {
        if (!confirm(`Delete the app ${app.name}? Its key stops working at once.`)) return;
        await request(DeleteAppDocument, { name: app.name });
        await reload();
      } }, 'Delete'),
    ),
  );

  main.replaceChildren(
    h('div', { class: 'page-head' }, h('h1', {}, 'Access')),
    notice,
    h('section', { 'aria-label': 'Roles' }, h('h2', {}, 'Roles'), newRole, roles.map(roleCard)),
    h('section', { 'aria-label': 'Apps' }, h('h2', {}, 'Apps'), newApp, keyShown, h('ul', { class: 'service-list', 'data-testid': 'app-list' }, appRows)),
  );
  return {};
}

/** After a re-render the new page's box shows the key (the old elements are gone). */
function showKeyAfterReload(app: string, key: string): void {
  document.querySelector('[data-testid="app-key-box"]')?.replaceChildren(h('p', {}, `The key of ${app}, shown this once: copy it now.`), h('code', { 'data-testid': 'app-key' }, key));
}
