import { request } from '../api';
import { append, h, pretty, statusBadge } from '../dom';
import { ExecutionDetailDocument } from '../graphql/generated/graphql';
import type { Screen } from '../nav';
import { describe } from '../run-panel';
import { historyRow } from './workspace';

/** One run: its event (the request it ran with), logs, result and error, and the runs it made. */
export async function renderExecution(main: HTMLElement, id: string): Promise<Screen> {
  const { execution } = await request(ExecutionDetailDocument, { id });
  if (!execution) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert' }, `No execution ${id} (history keeps the last runs of each service).`));
    return {};
  }
  const back = execution.service === '(inline)' || execution.eventName ? h('a', { href: '#/tail' }, 'Live tail') : h('a', { href: `#/services/${encodeURIComponent(execution.service)}` }, `Back to ${execution.service}`);
  main.replaceChildren();
  append(main, [
    h('div', { class: 'page-head' }, h('h1', {}, execution.eventName ?? execution.service), statusBadge(execution.status), h('span', { 'data-testid': 'execution-status-code' }, String(execution.statusCode ?? '')), back),
    h('p', { class: 'muted', 'data-testid': 'execution-meta' }, `${execution.trigger} · ${execution.scriptType} · started ${new Date(execution.startedAt).toLocaleString()} · ${describe(execution)}${execution.serviceVersion ? ` · v${execution.serviceVersion}` : ''}`),
    execution.error
      ? h('p', { class: 'error', role: 'alert', 'data-testid': 'execution-error' }, `${execution.error.kind ?? 'error'}${execution.error.line ? ` on line ${execution.error.line}` : ''}: ${execution.error.message}`)
      : null,
    h('div', { class: 'columns' },
      h('section', { 'aria-label': 'Event' }, h('h2', {}, 'Event (request)'), h('pre', { 'data-testid': 'execution-request' }, pretty(execution.request ?? 'not recorded'))),
      h('section', { 'aria-label': 'Log' },
        h('h2', {}, 'Log', execution.logsTruncated ? ' (truncated)' : ''),
        h('ol', { class: 'log-pane', 'data-testid': 'execution-logs' }, execution.logs.edges.map(({ node }) => h('li', { class: `stream-${node.stream.toLowerCase()}` }, h('time', {}, node.timestamp.slice(11, 23)), ' ', node.message))),
      ),
    ),
    execution.children.length ? h('section', {}, h('h2', {}, 'Runs it made (platform.api)'), h('ul', { class: 'history' }, execution.children.map(historyRow))) : null,
  ]);
  return {};
}
