import { basicSetup } from 'codemirror';
import { Compartment, EditorState, Prec, type Extension } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { indentWithTab } from '@codemirror/commands';
import { linter, lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';

/** Language packs by script type, each its own chunk, loaded when a script of that type is opened. */
const LANGUAGES: Record<string, () => Promise<Extension>> = {
  javascript: () => import('@codemirror/lang-javascript').then((m) => m.javascript()),
  nodejs: () => import('@codemirror/lang-javascript').then((m) => m.javascript()),
  typescript: () => import('@codemirror/lang-javascript').then((m) => m.javascript({ typescript: true })),
  python: () => import('@codemirror/lang-python').then((m) => m.python()),
  python3: () => import('@codemirror/lang-python').then((m) => m.python()),
  // Scripts are PHP code without the <?php opening tag.
  php: () => import('@codemirror/lang-php').then((m) => m.php({ plain: true })),
};

/** A finding at a 1-based line and column, from checkScript or from a run's error. */
export interface Finding {
  line: number;
  column?: number;
  message: string;
  severity: 'error' | 'warning';
  source: 'check' | 'run';
}

export interface ScriptEditorOptions {
  parent: HTMLElement;
  content: string;
  type: string;
  label: string;
  onChange(content: string): void;
  onRun(): void;
  onSave?(): void;
  /** checkScript for the text as typed; empty when it compiles. */
  check(content: string, type: string): Promise<Finding[]>;
  /** Every finding shown, for the list beside the editor. */
  onFindings?(findings: Finding[]): void;
}

export class ScriptEditor {
  readonly view: EditorView;
  private type: string;
  private readonly language = new Compartment();
  /** A run's error, shown until the text changes. */
  private runFinding: { content: string; finding: Finding } | null = null;

  constructor(private readonly options: ScriptEditorOptions) {
    this.type = options.type;
    const shortcuts = Prec.highest(
      keymap.of([
        { key: 'Mod-Enter', run: () => (options.onRun(), true) },
        { key: 'Mod-s', run: () => (options.onSave?.(), true) },
      ]),
    );
    this.view = new EditorView({
      parent: options.parent,
      state: EditorState.create({
        doc: options.content,
        extensions: [
          shortcuts,
          basicSetup,
          keymap.of([indentWithTab]),
          this.language.of([]),
          EditorView.lineWrapping,
          lintGutter(),
          linter((view) => this.findings(view), { delay: 400 }),
          EditorView.contentAttributes.of({ 'aria-label': options.label }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) options.onChange(update.state.doc.toString());
          }),
        ],
      }),
    });
    void this.setType(options.type);
  }

  get content(): string {
    return this.view.state.doc.toString();
  }

  set content(text: string) {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
  }

  async setType(type: string): Promise<void> {
    this.type = type;
    const load = LANGUAGES[type];
    const extension = load ? await load() : [];
    if (this.type === type) this.view.dispatch({ effects: this.language.reconfigure(extension) });
    await this.relint();
  }

  /** Marks a run's error on its line, until the script changes. */
  showRunError(finding: Finding | null): void {
    this.runFinding = finding ? { content: this.content, finding } : null;
    void this.relint();
  }

  /** Lints now (the linter itself runs only after the text changes). */
  private async relint(): Promise<void> {
    const { doc } = this.view.state;
    const diagnostics = await this.findings(this.view);
    if (this.view.state.doc === doc) this.view.dispatch(setDiagnostics(this.view.state, diagnostics));
  }

  private async findings(view: EditorView): Promise<Diagnostic[]> {
    const content = view.state.doc.toString();
    let found: Finding[] = [];
    try {
      found = content.trim() ? await this.options.check(content, this.type) : [];
    } catch {
      found = []; // the check itself failed (type unavailable, offline): say nothing rather than something wrong
    }
    if (view.state.doc.toString() !== content) return [];
    if (this.runFinding?.content === content) found = [...found, this.runFinding.finding];
    this.options.onFindings?.(found);
    return found.map((finding) => toDiagnostic(view.state, finding));
  }
}

function toDiagnostic(state: EditorState, finding: Finding): Diagnostic {
  const line = state.doc.line(Math.min(Math.max(finding.line, 1), state.doc.lines));
  const from = line.from + Math.min(Math.max((finding.column ?? 1) - 1, 0), line.length);
  // From the column to the end of the line: something visible even at a line's end.
  const to = Math.max(line.to, from);
  return { from: from === to && from > line.from ? from - 1 : from, to, severity: finding.severity, message: finding.message, source: finding.source === 'run' ? 'run' : 'checkScript' };
}
