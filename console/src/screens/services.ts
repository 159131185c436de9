import { request } from '../api';
import { h, statusBadge, timeAgo } from '../dom';
import { RecentExecutionsDocument, ServiceListDocument, ScriptTypesDocument } from '../graphql/generated/graphql';
import type { Screen } from '../nav';

const PAGE = 100;

/** Services: searchable (by name, label or type, on the server), with each one's last run. */
export async function renderServices(main: HTMLElement): Promise<Screen> {
  const search = h('input', { type: 'search', placeholder: 'Search name, label or type', 'aria-label': 'Search services', 'data-testid': 'service-search' });
  const list = h('ul', { class: 'service-list', 'data-testid': 'service-list', 'aria-live': 'polite' });
  const count = h('p', { class: 'muted', role: 'status' });
  main.replaceChildren(
    h('div', { class: 'page-head' }, h('h1', {}, 'Services'), h('a', { class: 'button primary', href: '#/new', 'data-testid': 'new-service' }, 'New service')),
    search,
    count,
    list,
  );

  const [types, recent] = await Promise.all([request(ScriptTypesDocument, {}), request(RecentExecutionsDocument, { first: 500 }).catch(() => null)]);
  const labels = new Map(types.scriptTypes.map((type) => [type.name, type.label]));
  const lastRun = new Map<string, { status: string; startedAt: string }>();
  for (const { node } of recent?.executions.edges ?? []) if (!node.eventName && !lastRun.has(node.service)) lastRun.set(node.service, node);

  let generation = 0;
  const load = async () => {
    const mine = ++generation;
    const text = search.value.trim().replace(/'/g, "''");
    const filter = text ? `name LIKE '%${text}%' OR label LIKE '%${text}%' OR type LIKE '%${text}%'` : undefined;
    const page = await request(ServiceListDocument, { first: PAGE, filter });
    if (mine !== generation) return;
    count.textContent = `${page.services.totalCount} service${page.services.totalCount === 1 ? '' : 's'}${page.services.pageInfo.hasNextPage ? `, first ${PAGE} shown` : ''}`;
    list.replaceChildren(
      ...page.services.edges.map(({ node }) => {
        const run = lastRun.get(node.name);
        return h(
          'li',
          { 'data-testid': `service-${node.name}` },
          h('a', { href: `#/services/${encodeURIComponent(node.name)}` }, h('strong', {}, node.name), node.label && node.label !== node.name ? h('span', { class: 'muted' }, ` ${node.label}`) : null),
          h('span', { class: 'type' }, labels.get(node.type) ?? node.type),
          h('span', { class: node.isActive ? 'badge active' : 'badge inactive' }, node.isActive ? 'active' : 'inactive'),
          h('span', { class: 'last-run' }, statusBadge(run?.status), run ? ` ${timeAgo(run.startedAt)}` : ''),
        );
      }),
    );
    if (!page.services.edges.length) list.append(h('li', { class: 'muted' }, text ? 'No service matches.' : 'No services yet: create one.'));
  };
  let typing: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => void load().catch((error: Error) => (count.textContent = error.message)), 200);
  });
  await load();
  search.focus();
  return { dispose: () => clearTimeout(typing) };
}
