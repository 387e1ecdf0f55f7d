// SPDX-License-Identifier: Apache-2.0
// Actors: search by id or kind; one actor's current state and its journal
// as a timeline.

import { api, badge, every, fields, fill, h, link, pretty, problemBox, query, seg, time } from '../ui.js';

export function render(main, id) {
  return id ? renderActor(main, id) : renderSearch(main);
}

function renderSearch(main) {
  const input = h('input', { name: 'q', list: 'kinds', placeholder: 'kind, or an id like order/o17', size: 40 });
  const kinds = h('datalist#kinds');
  const body = h('div');
  let cursor = '';
  const search = async (more = false) => {
    const q = input.value.trim();
    if (q.includes('/')) {
      location.hash = `#/actors/${seg(q)}`;
      return;
    }
    try {
      const page = await api(`/api/v1/actors${query({ kind: q, limit: 50, cursor: more ? cursor : '' })}`);
      cursor = page.next_cursor || '';
      const rows = page.actors.map((a) =>
        h(
          'tr.clickable',
          { onclick: () => (location.hash = `#/actors/${seg(a.id)}`) },
          h('td', link(`/actors/${seg(a.id)}`, h('code', a.id))),
          h('td', a.kind),
          h('td', badge(a.status)),
          h('td', String(a.mailbox_depth)),
          h('td', String(a.journal_length)),
          h('td', a.last_error ?? ''),
        ),
      );
      const table = more && body.querySelector('tbody');
      if (table) table.append(...rows);
      else
        fill(
          body,
          h(
            'table#actors',
            h('thead', h('tr', ['Actor', 'Kind', 'Status', 'Mailbox', 'Journal', 'Last error'].map((t) => h('th', t)))),
            h('tbody', rows),
          ),
        );
      body.querySelector('button.more')?.remove();
      if (cursor) body.append(h('button.more', { onclick: () => search(true) }, 'More'));
    } catch (error) {
      fill(body, problemBox(error));
    }
  };
  const form = h(
    'form.filters',
    {
      onsubmit: (e) => {
        e.preventDefault();
        search();
      },
    },
    h('label', 'Actor id or kind', input),
    kinds,
    h('button', { type: 'submit' }, 'Search'),
  );
  fill(main, h('h1', 'Actors'), form, body);
  api('/api/v1/status').then((s) => fill(kinds, (s.kinds || []).map((k) => h('option', { value: k })))).catch(() => {});
  search();
}

function renderActor(main, id) {
  const summary = h('div');
  const journal = h('ol.timeline#journal');
  const banner = h('div');
  let shownTo = 0;
  fill(
    main,
    h('p', link('/actors', '← Actors')),
    h('h1', 'Actor ', h('code', id)),
    banner,
    summary,
    h('h2', 'Journal (newest first)'),
    journal,
  );
  const refresh = async () => {
    let a;
    try {
      a = await api(`/api/v1/actors/${seg(id)}`);
      fill(banner);
    } catch (error) {
      fill(banner, problemBox(error));
      return;
    }
    const { state, ...rest } = a;
    fill(summary, fields(rest), h('h2', 'State'), pretty(state));
    if (a.journal_length > shownTo) {
      const from = Math.max(shownTo + 1, a.journal_length - 49);
      const page = await api(`/api/v1/actors/${seg(id)}/journal${query({ from, limit: 50 })}`);
      for (const e of page.events) {
        journal.prepend(
          h(
            'li',
            { 'data-seq': e.seq },
            h('div.when', `#${e.seq} · ${time(e.time_ms)} · `, h('code', e.type), e.trace_id ? [' · ', link(`/traces/${e.trace_id}`, 'trace')] : null),
            e.payload !== undefined ? pretty(e.payload) : h('span.muted', `${e.size} bytes`),
          ),
        );
        shownTo = Math.max(shownTo, e.seq);
      }
    }
  };
  return every(2000, refresh);
}
