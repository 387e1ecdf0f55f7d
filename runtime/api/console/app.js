// SPDX-License-Identifier: Apache-2.0
// The console's shell: sign-in, navigation and hash routes (#/plans/ID).
// Each page module exports render(main, args) and may return a function
// that stops what it started (polling) when the page is left.

import { api, fill, h, problemBox, setToken, token, whenUnauthorized } from './ui.js';
import * as overview from './pages/overview.js';
import * as plans from './pages/plans.js';
import * as approvals from './pages/approvals.js';
import * as actors from './pages/actors.js';
import * as deadLetters from './pages/dead_letters.js';
import * as traces from './pages/traces.js';
import * as tools from './pages/tools.js';
import * as cluster from './pages/cluster.js';

const pages = [
  { route: '', title: 'Overview', page: overview },
  { route: 'plans', title: 'Plans', page: plans },
  { route: 'approvals', title: 'Approvals', page: approvals },
  { route: 'actors', title: 'Actors', page: actors },
  { route: 'dead-letters', title: 'Dead letters', page: deadLetters },
  { route: 'traces', title: 'Traces', page: traces },
  { route: 'tools', title: 'Tools', page: tools },
  { route: 'cluster', title: 'Cluster', page: cluster },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const nodeLabel = document.getElementById('node');
let leave = null;

// A token handed over in the URL's fragment (never sent to the server, so
// never in a log) is taken into this tab's session storage and removed
// from the address bar.
function takeTokenFromFragment() {
  const m = /(?:^#|[&?])token=([^&]+)/.exec(location.hash);
  if (!m) return;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, '', `${location.pathname}#/`);
}

function signIn(message) {
  if (leave) leave();
  leave = null;
  const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'SECRET' });
  const form = h(
    'form.signin',
    {
      onsubmit: (e) => {
        e.preventDefault();
        setToken(input.value.trim());
        route();
      },
    },
    h('h1', 'Sign in'),
    h('p', 'This node asks for a token. Paste a token with the read scope (write, approve and admin for actions).'),
    message ? problemBox(message) : null,
    h('label', { for: 'token' }, 'Token'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  fill(main, form);
  input.focus();
}

async function route() {
  const path = location.hash.replace(/^#\/?/, '').split('?')[0];
  const [first, ...rest] = path.split('/');
  const entry = pages.find((p) => p.route === decodeURIComponent(first)) || null;
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.route === (entry?.route ?? ''));
  if (leave) leave();
  leave = null;
  try {
    const status = await api('/api/v1/status');
    fill(nodeLabel, `${status.node_id} · ${status.version}`);
  } catch (error) {
    if (error.status === 401 || error.status === 403) return signIn(token() ? error : null);
    fill(main, problemBox(error));
    return;
  }
  if (!entry) {
    fill(main, problemBox(`no page ${path}`));
    return;
  }
  document.title = `${entry.title} · cairn console`;
  fill(main);
  const args = rest.join('/') ? decodeURIComponent(rest.join('/')) : '';
  try {
    leave = (await entry.page.render(main, args)) || null;
  } catch (error) {
    main.prepend(problemBox(error));
  }
}

function start() {
  takeTokenFromFragment();
  fill(
    nav,
    pages.map((p) => h('a', { href: `#/${p.route}`, 'data-route': p.route }, p.title)),
  );
  document.getElementById('signout').addEventListener('click', () => {
    setToken('');
    signIn(null);
  });
  whenUnauthorized(() => signIn(null));
  window.addEventListener('hashchange', route);
  route();
}

start();
