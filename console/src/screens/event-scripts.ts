import { ApiError, request } from '../api';
import { field, h, pretty } from '../dom';
import { ScriptEditor } from '../editor';
import {
  DeleteEventScriptDocument,
  EventNamesDocument,
  EventScriptDetailDocument,
  EventScriptsDocument,
  ExecutionDetailDocument,
  InvokeServiceDocument,
  ScriptTypesDocument,
  UpsertEventScriptDocument,
} from '../graphql/generated/graphql';
import { navigate, type Screen } from '../nav';
import { check } from './workspace';

const PHASES = ['pre_process', 'post_process', 'queued'];
const VERBS = ['get', 'post', 'put', 'patch', 'delete'];

const STARTER = `// pre_process: change or check the request; post_process: the response.\nconsole.log(event.request.method, event.resource);\n`;

/** An endpoint of an event name: service, resource path, verb. */
function endpointOf(base: string): { service: string; path: string; verb: string } {
  const parts = base.split('.');
  return { service: parts[0]!, verb: parts[parts.length - 1]!, path: parts.slice(1, -1).join('/') };
}

/**
 * Event scripts: a searchable endpoint picker that builds the event name
 * (always shown), phase, type, allow-modification and active, the script,
 * and a test that calls the endpoint with a sample request and shows the
 * request before the scripts and as the service received it.
 */
export async function renderEventScripts(main: HTMLElement, selected?: string): Promise<Screen> {
  const [{ eventScripts }, { events }, { scriptTypes }] = await Promise.all([request(EventScriptsDocument, {}), request(EventNamesDocument, {}), request(ScriptTypesDocument, {})]);
  const existing = selected ? (await request(EventScriptDetailDocument, { name: selected })).eventScript : null;
  const bases = [...new Set(events.map((name) => name.slice(0, name.lastIndexOf('.'))))].sort();

  const list = h(
    'ul',
    { class: 'service-list', 'data-testid': 'event-script-list' },
    eventScripts.map((script) =>
      h('li', {}, h('a', { href: `#/events/${encodeURIComponent(script.name)}` }, h('strong', {}, script.name)), h('span', { class: 'type' }, script.type), h('span', { class: script.isActive ? 'badge active' : 'badge inactive' }, script.isActive ? 'active' : 'inactive')),
    ),
  );
  if (!eventScripts.length) list.append(h('li', { class: 'muted' }, 'No event scripts yet.'));

  let base = existing ? existing.name.slice(0, existing.name.lastIndexOf('.')) : bases.find((b) => !b.startsWith('system.')) ?? bases[0] ?? '';
  const search = h('input', { type: 'search', placeholder: 'Search endpoints: service, path, verb', 'data-testid': 'event-endpoint-search', 'aria-controls': 'event-endpoints' });
  const matches = h('ul', { id: 'event-endpoints', class: 'picker', 'data-testid': 'event-endpoints' });
  const phase = h('select', { 'data-testid': 'event-phase' }, PHASES.map((p) => h('option', { value: p }, p)));
  const type = h('select', { 'data-testid': 'event-type' }, scriptTypes.map((t) => h('option', { value: t.name, disabled: !t.available }, t.label + (t.available ? '' : ` (unavailable: ${t.unavailableReason ?? ''})`))));
  const allowModification = h('input', { type: 'checkbox', checked: existing?.allowEventModification ?? false, 'data-testid': 'event-allow-modification' });
  const active = h('input', { type: 'checkbox', checked: existing?.isActive ?? true, 'data-testid': 'event-active' });
  const nameOut = h('output', { class: 'event-name', 'data-testid': 'event-name' });
  const notice = h('p', { class: 'notice', role: 'status', 'data-testid': 'event-notice' });
  if (existing) {
    phase.value = existing.name.slice(existing.name.lastIndexOf('.') + 1);
    type.value = existing.type;
  }
  const eventName = () => `${base}.${phase.value}`;
  const showName = () => (nameOut.textContent = eventName());
  const showMatches = () => {
    const words = search.value.toLowerCase().split(/[\s/.]+/).filter(Boolean);
    const found = bases.filter((b) => words.every((w) => b.toLowerCase().includes(w))).slice(0, 30);
    matches.replaceChildren(
      ...found.map((b) =>
        h('li', {}, h('button', { type: 'button', class: b === base ? 'link chosen' : 'link', 'aria-pressed': String(b === base), onclick: () => ((base = b), showName(), showMatches(), (testPath.value = endpointOf(b).path)) }, b)),
      ),
    );
  };
  search.addEventListener('input', showMatches);
  phase.addEventListener('change', showName);

  const editorHost = h('div', { class: 'editor' });
  const editor = new ScriptEditor({ parent: editorHost, content: existing?.content ?? STARTER, type: type.value, label: 'Event script', onChange: () => {}, onRun: () => void test(), onSave: () => void save(), check });
  type.addEventListener('change', () => void editor.setType(type.value));
  let savedContent = existing?.content ?? STARTER;

  const save = async () => {
    try {
      const name = eventName();
      await request(UpsertEventScriptDocument, { name, input: { type: type.value, content: editor.content, isActive: active.checked, allowEventModification: allowModification.checked } });
      savedContent = editor.content;
      notice.textContent = `Saved ${name}.`;
      if (name !== selected) navigate(`events/${encodeURIComponent(name)}`);
    } catch (error) {
      notice.textContent = `Not saved: ${(error as Error).message}`;
    }
  };
  const remove = async () => {
    if (!selected || !confirm(`Delete the event script ${selected}?`)) return;
    await request(DeleteEventScriptDocument, { name: selected });
    savedContent = editor.content;
    navigate('events');
  };

  // ---- test against a sample request
  const testPath = h('input', { value: endpointOf(base).path, spellcheck: 'false', 'data-testid': 'event-test-path' });
  const testQuery = h('input', { placeholder: 'a=1', spellcheck: 'false', 'data-testid': 'event-test-query' });
  const testBody = h('textarea', { rows: 3, placeholder: '{ }', spellcheck: 'false', 'data-testid': 'event-test-body' });
  const before = h('pre', { 'data-testid': 'event-request-before' });
  const after = h('pre', { 'data-testid': 'event-request-after' });
  const response = h('pre', { 'data-testid': 'event-response' });
  const test = async () => {
    const { service, verb } = endpointOf(base);
    if (service === 'system') {
      notice.textContent = 'The test calls scripted services; system endpoints are tried from GraphiQL.';
      return;
    }
    if (editor.content !== savedContent || !selected) {
      notice.textContent = 'Save first: the test calls the endpoint, which runs the saved event scripts.';
      return;
    }
    try {
      const sent = { method: verb.toUpperCase(), resource: testPath.value.trim(), parameters: Object.fromEntries(new URLSearchParams(testQuery.value)), payload: testBody.value.trim() ? JSON.parse(testBody.value) : undefined };
      before.textContent = pretty(sent);
      after.textContent = 'calling…';
      const { invokeService } = await request(InvokeServiceDocument, { name: service, ...sent });
      response.textContent = `${invokeService.statusCode}\n${pretty(invokeService.content)}`;
      const run = invokeService.executionId ? (await request(ExecutionDetailDocument, { id: invokeService.executionId })).execution : null;
      after.textContent = run?.request ? pretty(run.request) : 'The service did not run (a pre_process script answered).';
    } catch (error) {
      after.textContent = '';
      notice.textContent = error instanceof ApiError || error instanceof Error ? error.message : String(error);
    }
  };

  main.replaceChildren(
    h('div', { class: 'page-head' }, h('h1', {}, 'Event scripts'), h('a', { class: 'button', href: '#/events', 'data-testid': 'new-event-script' }, 'New event script')),
    h(
      'div',
      { class: 'columns' },
      h('section', { 'aria-label': 'Event scripts' }, list),
      h(
        'section',
        { class: 'form', 'aria-label': 'Event script' },
        h('p', {}, 'Event name: ', nameOut),
        field('Endpoint', search),
        matches,
        h('div', { class: 'row' }, field('Phase', phase), field('Type', type)),
        h('label', { class: 'check' }, allowModification, ' Allow modification of the request and response'),
        h('label', { class: 'check' }, active, ' Active'),
        editorHost,
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', 'data-testid': 'event-save', onclick: () => void save() }, 'Save'), selected ? h('button', { type: 'button', class: 'danger', onclick: () => void remove() }, 'Delete') : null),
        notice,
        h('h2', {}, 'Test with a sample request'),
        h('div', { class: 'row' }, field('Path', testPath), field('Query', testQuery)),
        field('JSON body', testBody),
        h('button', { type: 'button', 'data-testid': 'event-test', onclick: () => void test() }, 'Call the endpoint'),
        h('div', { class: 'columns' }, h('div', {}, h('h3', {}, 'Request sent'), before), h('div', {}, h('h3', {}, 'Request the service got'), after)),
        h('h3', {}, 'Response'),
        response,
      ),
    ),
  );
  showName();
  showMatches();
  return { dispose: () => editor.view.destroy(), unsaved: () => (editor.content !== savedContent ? 'The event script has unsaved changes.' : null) };
}
