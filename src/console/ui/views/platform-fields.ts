import { h, uid } from '../dom.js';
import { PLATFORMS, PLATFORM_LABELS, type Platform } from '../format.js';

export interface PlatformFields {
  fieldset: HTMLFieldSetElement;
  boxes: Record<Platform, HTMLInputElement>;
  chosen(): Record<`supports_${Platform}`, boolean>;
  any(): boolean;
}

/** The three platform checkboxes of the create and edit dialogs. */
export function platformFields(initial: Readonly<Record<Platform, boolean>>): PlatformFields {
  const boxes = {} as Record<Platform, HTMLInputElement>;
  const items = PLATFORMS.map((p) => {
    const id = uid(`platform-${p}`);
    boxes[p] = h('input', { type: 'checkbox', id, name: p, checked: initial[p] });
    return h('li', { class: 'check' }, boxes[p], h('label', { for: id }, PLATFORM_LABELS[p]));
  });
  const fieldset = h(
    'fieldset',
    { class: 'field' },
    h('legend', {}, 'Platforms it verifies'),
    h('ul', { class: 'checks inline' }, ...items),
  );
  return {
    fieldset,
    boxes,
    chosen: () => ({ supports_web: boxes.web.checked, supports_ios: boxes.ios.checked, supports_android: boxes.android.checked }),
    any: () => PLATFORMS.some((p) => boxes[p].checked),
  };
}
