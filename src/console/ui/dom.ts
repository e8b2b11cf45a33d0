/**
 * The console's only way to build markup. Text always goes in as text nodes, never as HTML, and there is
 * no style attribute: the Content-Security-Policy allows neither, and names from the API stay inert.
 */

export type Child = Node | string | number | null | undefined | false;
type Handler = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

function apply(el: Element, attrs: Attrs): void {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      if (!/^on[A-Z]/.test(key)) throw new Error(`handler ${key} must be named onEvent`);
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'style' || key.startsWith('on')) {
      throw new Error(`attribute ${key} is not allowed under the console's CSP`);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

let nextId = 0;
/** A document-unique id for label/aria wiring. */
export function uid(prefix: string): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A <time> element: relative words visible, the exact local time as its tooltip and machine value. */
export function timeEl(unix: number, text: string, title: string): HTMLTimeElement {
  return h('time', { datetime: new Date(unix * 1000).toISOString(), title }, text);
}
