import type { CodegenConfig } from '@graphql-codegen/cli';

/** Typed documents for the tests, generated from the printed schema. */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['test/documents/**/*.graphql'],
  generates: {
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { JSON: 'unknown', DateTime: 'string' },
        useTypeImports: true,
        enumsAsTypes: true,
      },
    },
  },
  ignoreNoDocuments: false,
};

export default config;
