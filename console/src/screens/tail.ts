import { request, subscribe } from '../api';
import { field, h } from '../dom';
import { ExecutionUpdatesDocument, RecentExecutionsDocument, type ExecutionSummaryFragment } from '../graphql/generated/graphql';
import type { Screen } from '../nav';
import { historyRow } from './workspace';

const KEEP = 200;

/** Every execution as it starts and ends, filtered here by service and status. */
export async function renderTail(main: HTMLElement): Promise<Screen> {
  const service = h('input', { type: 'search', placeholder: 'any service', 'data-testid': 'tail-service' });
  const status = h('select', { 'data-testid': 'tail-status' }, ['', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT'].map((s) => h('option', { value: s }, s ? s.toLowerCase().replace('_', ' ') : 'any status')));
  const list = h('ul', { class: 'history tail', 'data-testid': 'tail', 'aria-live': 'polite' });
  const runs = new Map<string, ExecutionSummaryFragment>();
  const show = () => {
    const wanted = service.value.trim().toLowerCase();
    const rows = [...runs.values()]
      .filter((run) => (!wanted || run.service.includes(wanted) || (run.eventName ?? '').includes(wanted)) && (!status.value || run.status === status.value))
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    list.replaceChildren(...rows.map((run) => {
      const row = historyRow(run);
      row.querySelector('a')!.prepend(h('strong', {}, run.eventName ?? run.service), ' ');
      return row;
    }));
    if (!rows.length) list.append(h('li', { class: 'muted' }, 'Nothing yet: runs appear here as they happen.'));
  };
  service.addEventListener('input', show);
  status.addEventListener('change', show);
  main.replaceChildren(h('div', { class: 'page-head' }, h('h1', {}, 'Live tail')), h('div', { class: 'row filters' }, field('Service', service), field('Status', status)), list);
  const recent = await request(RecentExecutionsDocument, { first: 50 });
  for (const { node } of recent.executions.edges) runs.set(node.id, node);
  show();
  const stop = subscribe(ExecutionUpdatesDocument, {}, ({ executionUpdated }) => {
    runs.set(executionUpdated.id, executionUpdated);
    if (runs.size > KEEP) runs.delete([...runs.values()].sort((a, b) => a.startedAt.localeCompare(b.startedAt))[0]!.id);
    show();
  });
  return { dispose: stop };
}
