import type { CodegenConfig } from '@graphql-codegen/cli';

/** Typed documents for the tests and the web console, generated from the printed schema. */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  generates: {
    'test/generated/': {
      documents: ['test/documents/**/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { JSON: 'unknown', DateTime: 'string' },
        useTypeImports: true,
        enumsAsTypes: true,
      },
    },
    // Committed: `npm run build` (at install) needs them, and codegen is a dev tool. Strings, not ASTs: no graphql-js in the browser.
    'console/src/graphql/generated/': {
      documents: ['console/src/graphql/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: 'string',
        scalars: { JSON: 'unknown', DateTime: 'string' },
        useTypeImports: true,
        enumsAsTypes: true,
      },
    },
  },
  ignoreNoDocuments: false,
};

export default config;
