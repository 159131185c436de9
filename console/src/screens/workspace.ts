import { ApiError, request, subscribe } from '../api';
import { field, h, pretty, statusBadge, timeAgo } from '../dom';
import { ScriptEditor, type Finding } from '../editor';
import {
  CheckScriptDocument,
  DeleteServiceDocument,
  ExecutionUpdatesDocument,
  RecentExecutionsDocument,
  RollbackServiceDocument,
  ScriptTypesDocument,
  ServiceDetailDocument,
  UpdateServiceDocument,
  type ExecutionSummaryFragment,
} from '../graphql/generated/graphql';
import { navigate, type Screen } from '../nav';
import { RunPanel } from '../run-panel';
import { drafts } from '../session';

/** Config keys with their own fields; the rest is edited as JSON. */
const OWN_FIELDS = ['timeout_ms', 'memory_limit_mb'];

export async function check(content: string, type: string): Promise<Finding[]> {
  const { checkScript } = await request(CheckScriptDocument, { script: { type, content } });
  return checkScript.map((d) => ({ line: d.line, column: d.column, message: d.message, severity: d.severity === 'ERROR' ? 'error' : 'warning', source: 'check' }));
}

/** One service: the editor beside the test panel; history, settings and versions below. */
export async function renderWorkspace(main: HTMLElement, name: string): Promise<Screen> {
  const [{ service }, { scriptTypes }] = await Promise.all([request(ServiceDetailDocument, { name }), request(ScriptTypesDocument, {})]);
  if (!service) {
    main.replaceChildren(h('p', { class: 'error', role: 'alert' }, `No service named ${name}.`), h('a', { href: '#/services' }, 'Back to services'));
    return {};
  }
  let saved = { content: service.content, settings: '' };
  /** Set by a delete or rollback: what is unsaved no longer matters. */
  let leaving = false;
  const config = (service.config ?? {}) as Record<string, unknown>;

  // ---- settings
  const type = h('select', { 'data-testid': 'settings-type' }, scriptTypes.map((t) => h('option', { value: t.name, disabled: !t.available && t.name !== service.type }, t.label + (t.available ? '' : ' (unavailable)'))));
  type.value = service.type;
  const label = h('input', { value: service.label, maxlength: 80, 'data-testid': 'settings-label' });
  const description = h('input', { value: service.description, maxlength: 255, 'data-testid': 'settings-description' });
  const active = h('input', { type: 'checkbox', checked: service.isActive, 'data-testid': 'settings-active' });
  const timeout = h('input', { type: 'number', min: 1, value: numberOr(config.timeout_ms), placeholder: 'server default', 'data-testid': 'settings-timeout' });
  const memory = h('input', { type: 'number', min: 1, value: numberOr(config.memory_limit_mb), placeholder: 'server default', 'data-testid': 'settings-memory' });
  const otherConfig = Object.fromEntries(Object.entries(config).filter(([key]) => !OWN_FIELDS.includes(key) && key !== 'content'));
  const configJson = h('textarea', { rows: 6, spellcheck: 'false', 'data-testid': 'settings-config' });
  configJson.value = pretty(otherConfig);
  const settingsState = () => JSON.stringify([type.value, label.value, description.value, active.checked, timeout.value, memory.value, configJson.value]);
  saved.settings = settingsState();

  /** The config as the settings say, or an error naming what does not parse. */
  const configFromSettings = (): Record<string, unknown> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(configJson.value || '{}');
    } catch (error) {
      throw new Error(`Config is not JSON: ${(error as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('Config must be a JSON object.');
    const result: Record<string, unknown> = { ...(parsed as Record<string, unknown>) };
    if (timeout.value) result.timeout_ms = Number(timeout.value);
    if (memory.value) result.memory_limit_mb = Number(memory.value);
    return result;
  };

  // ---- head
  const dirtyMark = h('span', { class: 'dirty', 'data-testid': 'dirty', role: 'status' });
  const notice = h('p', { class: 'notice', role: 'status', 'data-testid': 'notice' });
  const saveButton = h('button', { type: 'button', 'data-testid': 'save', title: 'Save (Ctrl/Cmd+S)', onclick: () => void save() }, 'Save');
  const restUrl = `${location.origin}/api/v2/${service.name}`;
  const findingsList = h('ul', { class: 'findings', 'data-testid': 'diagnostics', 'aria-live': 'polite' });

  // ---- editor and test panel
  const editorHost = h('div', { class: 'editor' });
  const isDirty = () => editor.content !== saved.content || settingsState() !== saved.settings;
  const refreshDirty = () => {
    const dirty = isDirty();
    dirtyMark.textContent = dirty ? '● unsaved changes' : 'saved';
    dirtyMark.dataset.dirty = String(dirty);
    if (editor.content !== saved.content) drafts.put(service.name, editor.content, saved.content);
    else drafts.drop(service.name);
  };
  const editor = new ScriptEditor({
    parent: editorHost,
    content: service.content,
    type: service.type,
    label: `Script of ${service.name}`,
    onChange: refreshDirty,
    onRun: () => void panel.run(),
    onSave: () => void save(),
    check,
    onFindings: (findings) =>
      findingsList.replaceChildren(...findings.map((f) => h('li', { class: f.severity }, h('button', { type: 'button', class: 'link', onclick: () => goToLine(f.line) }, `line ${f.line}${f.column ? `:${f.column}` : ''}`), ` ${f.message}`))),
  });
  const goToLine = (line: number) => {
    const target = editor.view.state.doc.line(Math.min(line, editor.view.state.doc.lines));
    editor.view.dispatch({ selection: { anchor: target.from }, scrollIntoView: true });
    editor.view.focus();
  };
  const panel = new RunPanel(
    () => ({ type: type.value, content: editor.content, config: safeConfig() }),
    (finding) => editor.showRunError(finding),
  );
  const safeConfig = () => {
    try {
      return configFromSettings();
    } catch {
      return config;
    }
  };

  // A draft from before a reload: restored, and said so.
  const draft = drafts.get(service.name);
  if (draft && draft.content !== service.content) {
    editor.content = draft.content;
    notice.replaceChildren(
      draft.base === service.content ? 'Restored your unsaved draft. ' : 'Restored your unsaved draft; the saved script changed since it was started. ',
      h('button', { type: 'button', class: 'link', 'data-testid': 'discard-draft', onclick: () => ((editor.content = saved.content), notice.replaceChildren()) }, 'Discard it'),
    );
  }

  // ---- history
  const history = h('ul', { class: 'history', 'data-testid': 'history' });
  const runs = new Map<string, ExecutionSummaryFragment>();
  const showHistory = () => {
    const rows = [...runs.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, 50);
    history.replaceChildren(...rows.map(historyRow));
    if (!rows.length) history.append(h('li', { class: 'muted' }, `No runs yet. Call ${restUrl} or press Run.`));
  };
  const recent = await request(RecentExecutionsDocument, { service: service.name, first: 50 });
  for (const { node } of recent.executions.edges) runs.set(node.id, node);
  showHistory();
  const stopHistory = subscribe(ExecutionUpdatesDocument, { service: service.name }, ({ executionUpdated }) => {
    runs.set(executionUpdated.id, executionUpdated);
    showHistory();
  });

  // ---- versions
  const versions = h(
    'ul',
    { class: 'versions', 'data-testid': 'versions' },
    service.versions.edges.map(({ node }) =>
      h(
        'li',
        {},
        h('strong', {}, `v${node.version}`),
        ` ${node.type} · ${timeAgo(node.savedAt)} by ${node.savedBy}${node.message ? ` · ${node.message}` : ''} `,
        node.version === service.version
          ? h('span', { class: 'badge active' }, 'current')
          : h('button', { type: 'button', class: 'quiet', onclick: () => void rollback(node.version) }, `Roll back to v${node.version}`),
      ),
    ),
  );
  const rollback = async (version: number) => {
    if (isDirty() && !confirm('Rolling back replaces your unsaved changes. Continue?')) return;
    await request(RollbackServiceDocument, { name: service.name, version });
    drafts.drop(service.name);
    leaving = true;
    location.reload();
  };

  const save = async () => {
    saveButton.disabled = true;
    notice.textContent = 'Saving…';
    try {
      const nextConfig = configFromSettings();
      // Keys removed from the JSON are removed on the server too (null removes a key).
      for (const key of Object.keys(config)) if (!(key in nextConfig) && key !== 'content') nextConfig[key] = null;
      const content = editor.content;
      const state = settingsState();
      const { updateService } = await request(UpdateServiceDocument, {
        name: service.name,
        input: { content, type: type.value, label: label.value, description: description.value, isActive: active.checked, config: nextConfig },
      });
      saved = { content, settings: state };
      refreshDirty();
      notice.textContent = `Saved: version ${updateService.version}.`;
      if (type.value !== service.type) void editor.setType(type.value);
    } catch (error) {
      notice.textContent = `Not saved: ${error instanceof ApiError || error instanceof Error ? error.message : String(error)}`;
    } finally {
      saveButton.disabled = false;
    }
  };
  const remove = async () => {
    if (!confirm(`Delete the service ${service.name}? Its URL stops answering at once.`)) return;
    await request(DeleteServiceDocument, { name: service.name });
    drafts.drop(service.name);
    leaving = true;
    navigate('services');
  };
  for (const control of [type, label, description, active, timeout, memory, configJson]) control.addEventListener('input', refreshDirty);
  type.addEventListener('change', () => void editor.setType(type.value));

  const tabs = tabbed([
    ['History', 'tab-history', history],
    [
      'Settings',
      'tab-settings',
      h(
        'div',
        { class: 'form settings' },
        field('Type', type),
        field('Label', label),
        field('Description', description),
        h('label', { class: 'check' }, active, ' Active'),
        h('div', { class: 'row' }, field('Timeout (ms)', timeout), field('Memory (MB)', memory)),
        field('Config (JSON)', configJson, 'Other config keys; save with the script.'),
        h('button', { type: 'button', class: 'danger', 'data-testid': 'delete-service', onclick: () => void remove() }, 'Delete service'),
      ),
    ],
    ['Versions', 'tab-versions', versions],
  ]);

  main.replaceChildren(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, service.name),
      h('a', { class: 'rest-url', href: restUrl, 'data-testid': 'rest-url', target: '_blank', rel: 'noopener' }, restUrl),
      dirtyMark,
      saveButton,
    ),
    notice,
    h('div', { class: 'workspace' }, h('section', { class: 'editor-pane', 'aria-label': 'Script' }, editorHost, findingsList), panel.element),
    tabs,
  );
  refreshDirty();
  editor.view.focus();
  return {
    dispose: () => {
      panel.dispose();
      stopHistory();
      editor.view.destroy();
    },
    unsaved: () => (!leaving && isDirty() ? `${service.name} has unsaved changes.` : null),
  };
}

export function historyRow(run: ExecutionSummaryFragment): HTMLElement {
  return h(
    'li',
    { 'data-testid': 'history-row', 'data-execution': run.id },
    h('a', { href: `#/executions/${run.id}` }, statusBadge(run.status), ` ${run.statusCode ?? ''} `, h('span', { class: 'muted' }, run.trigger), ` ${timeAgo(run.startedAt)}`),
    run.durationMs !== null && run.durationMs !== undefined ? h('span', { class: 'muted' }, ` ${run.durationMs.toFixed(1)} ms`) : null,
    run.serviceVersion ? h('span', { class: 'muted' }, ` v${run.serviceVersion}`) : null,
    run.error ? h('span', { class: 'error' }, ` ${run.error.line ? `line ${run.error.line}: ` : ''}${run.error.message}`) : null,
  );
}

/** Tabs with the ARIA roles: arrow keys move between them. */
export function tabbed(tabs: [string, string, HTMLElement][]): HTMLElement {
  const list = h('div', { role: 'tablist', class: 'tabs' });
  const panels: HTMLElement[] = [];
  const buttons: HTMLButtonElement[] = [];
  const select = (index: number) => {
    buttons.forEach((button, i) => {
      button.setAttribute('aria-selected', String(i === index));
      button.tabIndex = i === index ? 0 : -1;
      panels[i]!.hidden = i !== index;
    });
  };
  tabs.forEach(([title, testId, content], index) => {
    const button = h('button', { type: 'button', role: 'tab', id: `${testId}-tab`, 'aria-controls': testId, 'data-testid': testId, onclick: () => select(index) }, title);
    button.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
        const next = (index + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length;
        select(next);
        buttons[next]!.focus();
      }
    });
    buttons.push(button);
    list.append(button);
    panels.push(h('div', { role: 'tabpanel', id: testId, 'aria-labelledby': `${testId}-tab` }, content));
  });
  select(0);
  return h('section', { class: 'tabbed' }, list, ...panels);
}

function numberOr(value: unknown): string | null {
  return typeof value === 'number' ? String(value) : null;
}
