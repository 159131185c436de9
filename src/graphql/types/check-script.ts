import { SyntaxChecker } from '../../domain/syntax-check.ts';
import type { Diagnostic } from '../../scripting/diagnostics.ts';
import { builder } from '../builder.ts';

const Severity = builder.enumType('DiagnosticSeverity', {
  description: 'ERROR: the script would not compile (a save is refused). WARNING: it would, with a note.',
  values: ['ERROR', 'WARNING'] as const,
});

const DiagnosticRef = builder.objectRef<Diagnostic>('Diagnostic').implement({
  description: 'One finding of a syntax check, at a 1-based line and column of the script as written (PHP reports no column: 1).',
  fields: (t) => ({
    severity: t.field({ type: Severity, resolve: (d) => d.severity }),
    message: t.exposeString('message'),
    line: t.exposeInt('line'),
    column: t.exposeInt('column'),
  }),
});

const CheckScriptInput = builder.inputType('CheckScriptInput', {
  description: 'A script to compile without running it.',
  fields: (t) => ({
    type: t.string({ required: true, description: 'A script type name, as in `scriptTypes`.' }),
    content: t.string({ required: true, description: 'The script.' }),
  }),
});

builder.queryFields((t) => ({
  checkScript: t.field({
    type: [DiagnosticRef],
    description:
      'Compiles a script without running any of it, as saving it would check it: empty when it compiles. Fast enough for every pause of an editor (javascript and typescript in-process, the subprocess types in a warm worker of their own).',
    args: { script: t.arg({ type: CheckScriptInput, required: true }) },
    resolve: (_root, { script }, ctx) => new SyntaxChecker(ctx.platform.engines).check(script, ctx.platform.settings.scripting.maxScriptBytes),
  }),
}));
