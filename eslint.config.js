// ESLint flat config (`npm run lint`, also part of `npm test`): typescript-eslint's
// type-checked recommended rules over src, test and bench, plus the plain JS scripts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' };


export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'build/**', 'coverage/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // node:test's describe/it/test return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
      // A leading underscore marks a parameter kept for an interface's signature, or a key
      // taken out of an object by destructuring.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Off: `async` on a method without `await` is deliberate here. It implements an interface
      // that returns a promise (the in-memory driver, caches, test doubles), and turns a
      // synchronous throw into a rejection, which callers rely on.
      '@typescript-eslint/require-await': 'off',
      // `.catch((err: unknown) => ... Promise.reject(err))` passes an error it did not make on.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // Off: the code matches control characters on purpose, to refuse them (realms, user names,
    // binary bodies in the conformance report).
    rules: { 'no-control-regex': 'off' },
  },
  {
    // Short functions and files in the product code (tests are exempt): a function over 60 lines
    // or a file over 400 is split into named steps.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true, IIFEs: true }],
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // The web UI's browser code: typed against the DOM by ui/tsconfig.json (which the project service
    // finds for these files). Pages are built with textContent only, so markup from the registry (a
    // label, a history line) can never run: HTML-parsing sinks are refused.
    files: ['ui/src/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        ...['innerHTML', 'outerHTML'].map((property) => ({ property, message: 'build elements with h() from ui/src/dom.ts (textContent only)' })),
        ...['insertAdjacentHTML', 'write', 'writeln'].map((property) => ({ property, message: 'build elements with h() from ui/src/dom.ts (textContent only)' })),
      ],
      'no-restricted-globals': ['error', { name: 'eval', message: 'the page\'s CSP refuses it anyway' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: nodeGlobals },
  },
);
