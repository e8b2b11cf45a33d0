// @ts-check
import tseslint from 'typescript-eslint';

/** The layers (docs/development.md): each rule names what a part of src/ must not import. */
const restrict = (files, patterns) => ({ files, rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'packages/*/dist/**', 'src/console/static/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  restrict(
    ['src/domain/**'],
    [
      {
        group: ['**/http/**', '**/storage/**', '**/webhooks/**', '**/cli/**', '**/runtime.js', '**/server.js', '**/cluster.js'],
        message: 'the domain knows neither HTTP nor storage nor the outbound webhook sender (its adapters)',
      },
    ],
  ),
  restrict(
    ['src/storage/**'],
    [
      {
        group: [
          '**/domain/*',
          '!**/domain/model.js',
          '!**/domain/ports.js',
          '!**/domain/change-feed.js',
          '!**/domain/clock.js',
          '!**/domain/rate-limiter.js',
        ],
        message:
          "storage implements the domain's model and ports (model, ports, change feed, clock, rate limiter), never its services",
      },
      { group: ['**/http/**', '**/cli/**', '**/runtime.js'], message: 'storage sits below http and the CLI' },
    ],
  ),
  restrict(
    ['src/rollout/**'],
    [
      {
        group: ['**/domain/*', '!**/domain/rollout.js', '**/http/**', '**/storage/**', '**/cli/**', '**/runtime.js'],
        message: "the rollout adapter implements the domain's RolloutCommand port and imports nothing else of ours",
      },
    ],
  ),
  restrict(
    ['src/crypto/**', 'src/sign/**', 'packages/sign/**'],
    [{ group: ['../*', '!../crypto', '!../crypto/*'], message: 'crypto and sign are pure: they import nothing of ours' }],
  ),
  {
    files: ['src/console/ui/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../../*', '!../../http', '../../http/*', '!../../http/schemas'],
              message: 'the console imports only types from the HTTP schemas',
            },
            {
              group: ['**/http/schemas/**'],
              allowTypeImports: true,
              message: 'the console imports only types from the HTTP schemas',
            },
          ],
        },
      ],
    },
  },
);
