// SPDX-License-Identifier: Apache-2.0
// Overview: throughput, pending, retries, dead letters and active actors,
// sampled from /api/v1/status once a second and drawn as live charts.

import { lineChart } from '../chart.js';
import { api, bytes, every, fill, h, link, problemBox, span } from '../ui.js';

const CAPACITY = 120;

export function render(main) {
  const samples = [];
  const tiles = h('div.tiles');
  const about = h('p.muted');
  const banner = h('div');
  fill(main, h('h1', 'Overview'), about, banner, tiles);
  return every(1000, async () => {
    let s;
    try {
      s = await api('/api/v1/status');
      fill(banner);
    } catch (error) {
      fill(banner, problemBox(error));
      return;
    }
    const now = performance.now();
    samples.push({ at: now, t: s.totals });
    if (samples.length > CAPACITY + 1) samples.shift();
    const rate = (key) => {
      const out = [];
      for (let i = 1; i < samples.length; i++) {
        const dt = (samples[i].at - samples[i - 1].at) / 1000;
        out.push(dt > 0 ? Math.max(0, (samples[i].t[key] - samples[i - 1].t[key]) / dt) : 0);
      }
      return out;
    };
    const level = (key) => samples.map((x) => x.t[key]);
    const last = (values) => (values.length ? values[values.length - 1] : 0);
    const processed = rate('processed');
    const accepted = rate('accepted');
    const retried = rate('retried');
    const dead = rate('dead_lettered');
    fill(
      about,
      `Node ${s.node_id}, up ${span(s.uptime_s)}, durability ${s.durability}, data ${bytes(s.data_dir_bytes ?? 0)}`,
      `, ${bytes(s.disk_free_bytes ?? 0)} free`,
      s.ready ? '' : ' — starting',
      s.storage_writable === false ? ' — storage is not writable' : '',
    );
    const tile = (id, label, value, chart, more) =>
      h('div.tile', { 'data-metric': id }, h('div.label', label), h('div.value', value), chart, more || null);
    fill(
      tiles,
      tile(
        'throughput',
        'Throughput (processed / accepted per second)',
        `${Math.round(last(processed))}/s`,
        lineChart(
          [
            { values: processed, cls: '' },
            { values: accepted, cls: 'second' },
          ],
          { capacity: CAPACITY },
        ),
      ),
      tile('pending', 'Pending messages', String(s.totals.pending), lineChart([{ values: level('pending') }], { capacity: CAPACITY })),
      tile('retries', 'Retries per second', `${Math.round(last(retried))}/s`, lineChart([{ values: retried, cls: 'bad' }], { capacity: CAPACITY })),
      tile(
        'dead-letters',
        'Dead letters (stored)',
        String(s.stored?.dead_letters ?? 0),
        lineChart([{ values: dead, cls: 'bad' }], { capacity: CAPACITY }),
        link('/dead-letters', 'Open dead letters'),
      ),
      tile('active', 'Active actors', String(s.totals.active_actors), lineChart([{ values: level('active_actors') }], { capacity: CAPACITY })),
      tile('timers', 'Timers', String(s.totals.timers), lineChart([{ values: level('timers'), cls: 'second' }], { capacity: CAPACITY })),
    );
  });
}
