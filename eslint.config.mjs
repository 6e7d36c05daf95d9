// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'coverage/', 'test-results/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: it may use only the workflow API,
    // other workflow modules and the pure domain vocabulary.
    // Type-only imports (e.g. of the activities' signatures) are erased and therefore allowed.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@temporalio/workflow$|\\./[^/]+$|\\.\\./src/domain(/[^/]+)?$)',
              allowTypeImports: true,
              message:
                'workflows/ may import only @temporalio/workflow, workflows/* and src/domain/* (deterministic code).',
            },
          ],
        },
      ],
    },
  },
  {
    // The domain is shared with workflows, so it must stay deterministic too.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(node:|@aws-sdk/|@temporalio/(?!common$)|\\.\\./)',
              message: 'src/domain/ is pure and deterministic: no Node APIs, SDK clients or outer modules.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
