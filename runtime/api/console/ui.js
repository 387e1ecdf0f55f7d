// SPDX-License-Identifier: Apache-2.0
// What every page shares: building DOM (text only: no markup is ever parsed
// from data, so every value is escaped by construction), calling the node
// API with the bearer token, and formatting times, sizes and JSON.

const TOKEN_KEY = 'cairn.token';

// h('tag#id.class', {attr: value, onclick: fn}, child, ...): an element.
// Strings and numbers become text nodes; arrays are flattened; null and
// false are skipped. Attribute values are set with setAttribute, never
// parsed; `on*` keys must be functions (listeners), never strings;
// `style` is an object of CSSOM properties.
export function h(spec, props, ...children) {
  if (!/^[a-z0-9]*([#.][\w-]+)*$/.test(spec)) throw new Error(`bad element spec ${spec}`);
  const el = document.createElement(/^[a-z0-9]*/.exec(spec)[0] || 'div');
  for (const [, mark, name] of spec.matchAll(/([#.])([\w-]+)/g)) {
    if (mark === '#') el.id = name;
    else el.classList.add(name);
  }
  if (props && (typeof props !== 'object' || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = null;
  }
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new Error(`listener ${key} must be a function`);
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className += (el.className ? ' ' : '') + value;
    } else if (key === 'style') {
      // Through the CSSOM: the Content-Security-Policy forbids inline style attributes.
      Object.assign(el.style, value);
    } else if (key === 'value') {
      el.value = value;
    } else if (key === 'checked') {
      el.checked = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Replaces the children of `el`.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A link inside the console (hash routes).
export function link(route, ...children) {
  return h('a', { href: `#${route}` }, ...children);
}

// ---------------------------------------------------------------------------
// The node API

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code;
    this.problem = problem;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

// Calls the node API: JSON in, JSON out; a problem answer throws ApiError.
// The token goes in the Authorization header (no cookies are used).
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await response.text();
  let value = null;
  try {
    value = text ? JSON.parse(text) : null;
  } catch {
    value = { detail: text };
  }
  if (!response.ok) {
    if (response.status === 401) onUnauthorized();
    throw new ApiError(response.status, value);
  }
  return value;
}

// Percent-encodes one path segment (actor ids hold '/').
export const seg = (s) => encodeURIComponent(s);

// ---------------------------------------------------------------------------
// Formatting

export function time(ms) {
  if (ms === undefined || ms === null) return '';
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().replace('T', ' ').replace('Z', '');
}

export function ago(ms) {
  const s = (Date.now() - Number(ms)) / 1000;
  if (s < 0) return `in ${span(-s)}`;
  return `${span(s)} ago`;
}

// A duration in seconds as a short text (45 s, 3 min, 2 h, 2 d).
export function span(s) {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

// Microseconds as a short text.
export function micros(us) {
  if (us < 1000) return `${us} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

export function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function pretty(value) {
  return h('pre.json', JSON.stringify(value, null, 2));
}

// A state as a coloured badge.
export function badge(state) {
  const s = String(state ?? '');
  return h(`span.badge.s-${s.replace(/[^a-z_]/g, '')}`, s);
}

// An error banner above the page's content.
export function problemBox(error) {
  const code = error?.code ? ` (${error.code})` : '';
  return h('div.problem', { role: 'alert' }, `${error?.message ?? error}${code}`);
}

// A key/value table of an object's top-level members.
export function fields(obj) {
  return h(
    'table.fields',
    h(
      'tbody',
      Object.entries(obj || {}).map(([k, v]) =>
        h('tr', h('th', k), h('td', v !== null && typeof v === 'object' ? pretty(v) : String(v))),
      ),
    ),
  );
}

// Polls `fn` every `ms` until the page is left; returns the stop function.
export function every(ms, fn) {
  let stopped = false;
  let timer;
  const tick = async () => {
    if (stopped) return;
    try {
      await fn();
    } finally {
      if (!stopped) timer = setTimeout(tick, ms);
    }
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// Query string from an object, skipping empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
