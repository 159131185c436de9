import { request, subscribe, onLiveState } from './api';
import { field, h, pretty } from './dom';
import { ExecutionDetailDocument, ExecutionUpdatesDocument, LogLinesDocument, RunScriptDocument } from './graphql/generated/graphql';
import type { ExecutionDetailQuery, LogLinesSubscription } from './graphql/generated/graphql';
import type { Finding } from './editor';

type Line = LogLinesSubscription['executionLogs'];
type Detail = NonNullable<ExecutionDetailQuery['execution']>;

/** The header that tells this tab's run apart from anyone else's unsaved run (all are "(inline)"). */
const RUN_TOKEN_HEADER = 'x-console-run';
const INLINE = '(inline)';
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export interface RunRequest {
  method: string;
  resource: string;
  parameters: Record<string, string>;
  headers: Record<string, string>;
  payload: unknown;
}

/**
 * The test panel: a request (method, path, query, headers, JSON body), the
 * live log of the run and its result. Runs the unsaved script with runScript;
 * its log lines arrive over the `(inline)` subscriptions opened with the
 * panel, so the first line of a run is never missed; when the call returns,
 * the stored log fills any gap.
 */
export class RunPanel {
  readonly element: HTMLElement;
  private readonly method = h('select', { 'data-testid': 'test-method' }, METHODS.map((m) => h('option', { value: m }, m)));
  private readonly path = h('input', { placeholder: 'resource/path', spellcheck: 'false', 'data-testid': 'test-path' });
  private readonly query = h('input', { placeholder: 'a=1&b=2', spellcheck: 'false', 'data-testid': 'test-query' });
  private readonly headers = h('textarea', { rows: 2, placeholder: 'Name: value (one a line)', spellcheck: 'false', 'data-testid': 'test-headers' });
  private readonly body = h('textarea', { rows: 4, placeholder: '{ "JSON": "body" }', spellcheck: 'false', 'data-testid': 'test-body' });
  private readonly log = h('ol', { class: 'log-pane', 'data-testid': 'log-pane', 'aria-live': 'polite', 'aria-label': 'Log', tabindex: '0' });
  private readonly liveState = h('span', { class: 'live-state', 'data-testid': 'log-connection' });
  private readonly status = h('span', { class: 'result-status', 'data-testid': 'result-status' });
  private readonly meta = h('span', { class: 'muted', 'data-testid': 'result-meta' });
  private readonly resultHeaders = h('pre', { class: 'result-headers', 'data-testid': 'result-headers' });
  private readonly resultBody = h('pre', { class: 'result-body', 'data-testid': 'result-body', tabindex: '0' });
  private readonly resultError = h('p', { class: 'error', role: 'alert', 'data-testid': 'result-error' });
  private readonly runButton: HTMLButtonElement;
  private readonly stops: (() => void)[] = [];

  /** Lines by execution, kept until this tab's run is known (they may come before its id). */
  private readonly pending = new Map<string, Line[]>();
  private token: string | null = null;
  private executionId: string | null = null;
  private shown = new Set<number>();

  constructor(
    private readonly script: () => { type: string; content: string; config: Record<string, unknown> },
    private readonly onError: (finding: Finding | null) => void,
    private readonly onFinished: () => void = () => {},
  ) {
    this.runButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'run', title: 'Run the unsaved script (Ctrl/Cmd+Enter)', onclick: () => void this.run() }, 'Run ▶');
    const keys = (event: KeyboardEvent) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this.run();
      }
    };
    const form = h(
      'div',
      { class: 'test-request', onkeydown: keys as EventListener },
      h('div', { class: 'row' }, field('Method', this.method), field('Path', this.path)),
      field('Query', this.query),
      field('Headers', this.headers),
      field('JSON body', this.body),
    );
    this.element = h(
      'section',
      { class: 'run-panel', 'aria-label': 'Test' },
      h('div', { class: 'panel-head' }, h('h2', {}, 'Test'), this.runButton, h('kbd', {}, 'Ctrl/⌘+Enter')),
      form,
      h('div', { class: 'panel-head' }, h('h2', {}, 'Log'), this.liveState),
      this.log,
      h('div', { class: 'panel-head' }, h('h2', {}, 'Result'), this.status, this.meta),
      this.resultError,
      h('details', {}, h('summary', {}, 'Headers'), this.resultHeaders),
      this.resultBody,
    );
    this.stops.push(
      onLiveState((state) => {
        this.liveState.textContent = state === 'connected' ? '● live' : `○ ${state}`;
        this.liveState.dataset.state = state;
      }),
      subscribe(LogLinesDocument, { service: INLINE }, ({ executionLogs: line }) => this.line(line)),
      subscribe(ExecutionUpdatesDocument, { service: INLINE }, ({ executionUpdated: execution }) => {
        const headers = (execution.request as { headers?: Record<string, string> } | null)?.headers ?? {};
        if (this.token && !this.executionId && headerOf(headers, RUN_TOKEN_HEADER) === this.token) this.adopt(execution.id);
      }),
    );
  }

  /** A request for this panel to start from (a saved service's last path, say). */
  get request(): RunRequest {
    return {
      method: this.method.value,
      resource: this.path.value.trim().replace(/^\/+/, ''),
      parameters: Object.fromEntries(new URLSearchParams(this.query.value.trim())),
      headers: Object.fromEntries(
        this.headers.value
          .split('\n')
          .map((line) => line.split(/:(.*)/s).map((part) => part.trim()))
          .filter(([name, value]) => name && value !== undefined) as [string, string][],
      ),
      payload: this.body.value.trim() ? JSON.parse(this.body.value) : undefined,
    };
  }

  async run(): Promise<void> {
    if (this.runButton.disabled) return;
    let call: RunRequest;
    try {
      call = this.request;
    } catch (error) {
      this.resultError.textContent = `The JSON body does not parse: ${(error as Error).message}`;
      this.body.focus();
      return;
    }
    const script = this.script();
    this.token = crypto.randomUUID();
    this.executionId = null;
    this.shown = new Set();
    this.pending.clear();
    this.log.replaceChildren();
    this.status.textContent = 'running…';
    this.status.dataset.state = 'running';
    this.meta.textContent = '';
    this.resultBody.textContent = '';
    this.resultHeaders.textContent = '';
    this.resultError.textContent = '';
    this.runButton.disabled = true;
    this.onError(null);
    const started = performance.now();
    try {
      const { runScript: answer } = await request(RunScriptDocument, {
        script,
        method: call.method,
        resource: call.resource || undefined,
        parameters: call.parameters,
        headers: { ...call.headers, [RUN_TOKEN_HEADER]: this.token },
        payload: call.payload,
      });
      if (answer.executionId && !this.executionId) this.adopt(answer.executionId);
      this.status.textContent = String(answer.statusCode);
      this.status.dataset.state = answer.statusCode < 400 ? 'ok' : 'failed';
      this.resultHeaders.textContent = pretty(answer.headers);
      this.resultBody.textContent = pretty(answer.content);
      this.meta.textContent = `${Math.round(performance.now() - started)} ms round trip · execution ${answer.executionId ?? '—'}`;
      if (answer.executionId) await this.settle(answer.executionId);
    } catch (error) {
      this.status.textContent = 'not run';
      this.status.dataset.state = 'failed';
      this.resultError.textContent = (error as Error).message;
    } finally {
      this.token = null;
      this.runButton.disabled = false;
      this.onFinished();
    }
  }

  dispose(): void {
    for (const stop of this.stops) stop();
  }

  private adopt(executionId: string): void {
    this.executionId = executionId;
    for (const line of this.pending.get(executionId) ?? []) this.show(line);
    this.pending.clear();
  }

  private line(line: Line): void {
    if (line.executionId === this.executionId) return this.show(line);
    if (!this.token) return;
    // Before this run's id is known: keep lines of any inline run briefly, by id.
    const lines = this.pending.get(line.executionId) ?? [];
    lines.push(line);
    this.pending.set(line.executionId, lines);
  }

  private show(line: Pick<Line, 'sequence' | 'stream' | 'message' | 'timestamp'>): void {
    if (this.shown.has(line.sequence)) return;
    this.shown.add(line.sequence);
    const item = h('li', { class: `stream-${line.stream.toLowerCase()}`, 'data-sequence': line.sequence }, h('time', {}, line.timestamp.slice(11, 23)), ' ', line.message);
    // In sequence order, whatever order the live and stored lines came in.
    const after = [...this.log.children].find((child) => Number((child as HTMLElement).dataset.sequence) > line.sequence);
    this.log.insertBefore(item, after ?? null);
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** The stored execution: duration, error line, and any line the live feed did not bring. */
  private async settle(executionId: string): Promise<void> {
    const { execution } = await request(ExecutionDetailDocument, { id: executionId });
    if (!execution) return;
    for (const { node } of execution.logs.edges) this.show(node);
    this.meta.textContent = describe(execution);
    if (execution.error) {
      this.resultError.textContent = `${execution.error.kind ?? 'error'}${execution.error.line ? ` on line ${execution.error.line}` : ''}: ${execution.error.message}`;
      if (execution.error.line) this.onError({ line: execution.error.line, message: execution.error.message, severity: 'error', source: 'run' });
    }
  }
}

export function describe(execution: Pick<Detail, 'durationMs' | 'id' | 'cpuMs'>): string {
  const parts = [`${execution.durationMs === null || execution.durationMs === undefined ? '—' : `${execution.durationMs.toFixed(1)} ms`}`];
  if (execution.cpuMs !== null && execution.cpuMs !== undefined) parts.push(`CPU ${execution.cpuMs.toFixed(1)} ms`);
  parts.push(`execution ${execution.id}`);
  return parts.join(' · ');
}

function headerOf(headers: Record<string, string>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}
