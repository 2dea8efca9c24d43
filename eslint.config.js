// Lint rules: typescript-eslint's recommended set, without the type-aware
// rules (tsc --noEmit already runs in `npm test`, and the type-aware lint
// would type-check everything a second time).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tap/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly', process: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', clearImmediate: 'readonly',
        queueMicrotask: 'readonly', performance: 'readonly', Buffer: 'readonly', URL: 'readonly',
        structuredClone: 'readonly', MessageChannel: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly',
        AbortController: 'readonly', AbortSignal: 'readonly', SharedArrayBuffer: 'readonly', Atomics: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // The CLI, benchmarks and tests are the only code allowed to write to the terminal.
    files: ['lib/cli/**', 'benchmarks/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
)
