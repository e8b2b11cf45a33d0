import { h } from '../dom.js';
import { SECRET_ENV_VAR, signingSnippets } from '../snippets.js';

/** The signing code in five languages, one disclosure each; the secret is an environment variable, never a value. */
export function snippetsBlock(heading: string): HTMLElement {
  return h(
    'section',
    { class: 'snippets', 'aria-label': heading },
    h('h3', {}, heading),
    h(
      'p',
      { class: 'hint' },
      `Each server signs user_id with HMAC-SHA256 (hex). Put the new secret in ${SECRET_ENV_VAR} on your servers; the code reads it from there.`,
    ),
    ...signingSnippets().map((snippet) =>
      h(
        'details',
        { class: 'snippet', 'data-language': snippet.id },
        h('summary', {}, snippet.label),
        h('pre', {}, h('code', {}, snippet.code)),
      ),
    ),
  );
}
