// ESLint for the browser scripts under gridmap/web/static/js (ES modules, no build step).
// Run by ./scripts/test; vendored third-party code is not ours to lint.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['gridmap/web/static/vendor/**'] },
  js.configs.recommended,
  {
    files: ['gridmap/web/static/js/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      // Leaflet and its plugins are classic scripts loaded before the page module.
      globals: { ...globals.browser, L: 'readonly' },
    },
    rules: {
      'no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_' }],
    },
  },
  {
    // The service worker: a classic script run in the worker's own global scope.
    files: ['gridmap/web/static/js/sw.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.serviceworker } },
  },
];
