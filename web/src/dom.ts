// A tiny hyperscript helper: no framework, no virtual DOM.
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.className = String(v);
    else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

let titleBase = 'Batiyoun';
let titleUnread = 0;

/** The tab's title for the screen shown, after the unread count when there is one: "(3) Book club · Batiyoun". */
export function setTitle(base: string): void {
  titleBase = base;
  showTitle();
}

/** Messages unread over all chats, shown in the tab's title (a hidden tab still says so). */
export function setUnreadInTitle(n: number): void {
  titleUnread = n;
  showTitle();
}

function showTitle(): void {
  document.title = titleUnread > 0 ? `(${titleUnread}) ${titleBase}` : titleBase;
}

export function announce(text: string): void {
  const el = document.getElementById('announcer');
  if (!el) return;
  el.textContent = '';
  // A new text node after a tick so screen readers announce repeats too.
  setTimeout(() => (el.textContent = text), 50);
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/** A labelled input with an error slot, wired for screen readers. */
export function field(opts: {
  id: string;
  label: string;
  type?: string;
  name?: string;
  autocomplete?: string;
  required?: boolean;
  hint?: string;
  value?: string;
  attrs?: Attrs;
}): { wrap: HTMLElement; input: HTMLInputElement } {
  const hintId = opts.hint ? `${opts.id}-hint` : undefined;
  const input = h('input', {
    id: opts.id,
    name: opts.name ?? opts.id,
    type: opts.type ?? 'text',
    autocomplete: opts.autocomplete,
    required: opts.required ?? true,
    'aria-describedby': hintId,
    value: opts.value,
    ...opts.attrs,
  });
  const wrap = h('div', { class: 'field' }, h('label', { for: opts.id }, opts.label), input, opts.hint ? h('p', { id: hintId, class: 'hint' }, opts.hint) : null);
  return { wrap, input };
}

export function errorBox(): HTMLElement {
  return h('p', { class: 'error', role: 'alert', 'data-testid': 'form-error' });
}
