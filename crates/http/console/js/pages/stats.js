// Statistics (#/stats?days=30 | ?from=YYYY-MM-DD&to=YYYY-MM-DD, &company_id=): GET /api/statistics/
// over a time window cut into days in the browser's time zone. Charts are drawn with uPlot
// (vendor/, MIT), loaded on first use as a same-origin classic script (the CSP admits nothing
// inline). Every number a chart shows is also in a table below it: the charts' text alternative.

import { api, can } from '../api.js';
import { h, mount, title, field, select, section, table, errorBox, num } from '../ui.js';

const DAY = 86400;
const PERIODS = [['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['custom', 'Custom dates']];
// Colour by outcome (the words are in the legend and the tables too); line style by type.
const OUTCOME_COLOURS = {
  SUCCESS: '#1b7837', DECLINED: '#b2182b', OPERATOR_REQUIRED: '#b35806', FAILED: '#4d4d4d', PROCESSING: '#2166ac',
};
const TYPE_DASH = { QUALITY: [], BIOMETRY: [8, 4], COLLECTION: [2, 3], DOCUMENTS: [10, 3, 2, 3] };

let uplotLoading = null;
/** window.uPlot, loading vendor/uPlot.iife.min.js once. */
function loadUPlot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = 'vendor/uPlot.iife.min.js';
      s.async = true;
      s.addEventListener('load', () => (window.uPlot ? resolve(window.uPlot) : reject(new Error('The chart library did not start.'))));
      s.addEventListener('error', () => {
        uplotLoading = null;
        s.remove();
        reject(new Error('The chart library could not be loaded.'));
      });
      document.head.appendChild(s);
    });
  }
  return uplotLoading;
}

/** Minutes east of UTC of the browser's zone now (the API's tz_offset). */
function tzOffset() {
  return -new Date().getTimezoneOffset();
}

function tzLabel(min) {
  const sign = min < 0 ? '-' : '+';
  const a = Math.abs(min);
  return `UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** Day number (days since 1970-01-01) of a YYYY-MM-DD date; NaN when it is not one. */
function dayOf(date) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || '');
  if (!m) return NaN;
  return Math.floor(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000 / DAY);
}

function dateOf(day) {
  return new Date(day * DAY * 1000).toISOString().slice(0, 10);
}

/** Today's day number in the zone `tz` (minutes east of UTC). */
function today(tz) {
  return Math.floor((Date.now() / 1000 + tz * 60) / DAY);
}

/** The window the route asks for: {firstDay, lastDay, min, max, label} (min/max UNIX seconds). */
function windowOf(params, tz) {
  const last = today(tz);
  let first;
  let end = last;
  let label;
  const from = dayOf(params.get('from'));
  const to = dayOf(params.get('to'));
  if (params.get('days') === 'custom' || params.has('from') || params.has('to')) {
    first = Number.isNaN(from) ? last - 29 : from;
    end = Number.isNaN(to) ? last : to;
    if (end < first) [first, end] = [end, first];
    if (end - first > 3660) first = end - 3660; // ten years of days at most
    label = `${dateOf(first)} to ${dateOf(end)}`;
  } else {
    const n = [7, 30, 90].includes(Number(params.get('days'))) ? Number(params.get('days')) : 30;
    first = last - (n - 1);
    label = `the last ${n} days`;
  }
  const start = (d) => d * DAY - tz * 60;
  return { firstDay: first, lastDay: end, min: start(first), max: start(end + 1) - 1, label };
}

/** The filter form; submitting moves to the new hash (the page renders again from it). */
function filters(route, companies) {
  const p = route.params;
  const custom = p.get('days') === 'custom' || p.has('from') || p.has('to');
  const period = select('days', PERIODS, custom ? 'custom' : (p.get('days') || '30'));
  const from = h('input', { type: 'date', name: 'from', value: p.get('from') || '' });
  const to = h('input', { type: 'date', name: 'to', value: p.get('to') || '' });
  const dates = h('div', { class: 'stats-dates', hidden: !custom },
    field('From', from), field('To', to));
  period.addEventListener('change', () => {
    dates.hidden = period.value !== 'custom';
    from.required = to.required = period.value === 'custom';
  });
  from.required = to.required = custom;
  let company = null;
  if (companies) {
    company = select('company_id', [['', 'All companies'], ...companies.map((c) => [c.company_id, c.name || c.company_id])], p.get('company_id') || '');
  }
  const form = h('form', {
    class: 'card filters stats-filters',
    'aria-label': 'Statistics window',
    onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      if (period.value === 'custom') {
        q.set('days', 'custom');
        if (from.value) q.set('from', from.value);
        if (to.value) q.set('to', to.value);
      } else {
        q.set('days', period.value);
      }
      if (company && company.value) q.set('company_id', company.value);
      route.go(`#/stats?${q.toString()}`);
    },
  },
  field('Period', period),
  dates,
  company ? field('Company', company) : null,
  h('div', { class: 'field' }, h('button', { type: 'submit', class: 'btn primary' }, 'Show')));
  return form;
}

/** A figure: a big number and what it is. */
function figure(label, value, note) {
  return h('div', { class: 'stat-fig' },
    h('dt', {}, label),
    h('dd', {}, h('span', { class: 'stat-num' }, value), note ? h('small', { class: 'muted' }, note) : null));
}

function pct(x) {
  return x === null || x === undefined ? '—' : `${(Number(x) * 100).toFixed(1)} %`;
}

function age(s) {
  if (s === null || s === undefined) return '—';
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 2 * DAY) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / DAY)} days`;
}

/** Series per day over every day of the window (zero where the API listed nothing). */
function dailySeries(stats, win) {
  const days = [];
  for (let d = win.firstDay; d <= win.lastDay; d += 1) days.push(d);
  const index = new Map(days.map((d, i) => [dateOf(d), i]));
  const zeros = () => days.map(() => 0);
  const folders = zeros();
  for (const r of stats.folders.per_day) if (index.has(r.date)) folders[index.get(r.date)] += r.count;
  const keys = [];
  const byKey = new Map();
  const analyses = zeros();
  const quality = zeros();
  const qualityDeclined = zeros();
  for (const r of stats.analyses.per_day) {
    if (!index.has(r.date)) continue;
    const i = index.get(r.date);
    const key = `${r.type} ${r.resolution_status}`;
    if (!byKey.has(key)) {
      byKey.set(key, zeros());
      keys.push({ key, type: r.type, status: r.resolution_status });
    }
    byKey.get(key)[i] += r.count;
    analyses[i] += r.count;
    if (r.type === 'QUALITY') {
      quality[i] += r.count;
      if (r.resolution_status === 'DECLINED') qualityDeclined[i] += r.count;
    }
  }
  keys.sort((a, b) => a.key.localeCompare(b.key));
  // x: the day's midnight in the caller's zone, as the API's `time`.
  const xs = days.map((d) => d * DAY - stats.tz_offset * 60);
  return { days, xs, folders, analyses, quality, qualityDeclined, keys, byKey };
}

const charts = [];

/** Destroys a chart once (a later visit or its resize watcher may both ask). */
function drop(chart) {
  const i = charts.indexOf(chart);
  if (i < 0) return;
  charts.splice(i, 1);
  chart.destroy();
}

/** A uPlot chart in `box`, sized to it and following its width. */
function drawChart(U, box, route, series, data) {
  const height = 220;
  const width = () => Math.max(200, Math.floor(box.clientWidth));
  const opts = {
    width: width(),
    height,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: [
      { stroke: '#333', grid: { stroke: '#e7e9ee' }, ticks: { stroke: '#c9ced6' } },
      {
        stroke: '#333', grid: { stroke: '#e7e9ee' }, ticks: { stroke: '#c9ced6' },
        incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 1e6],
        values: (u, vals) => vals.map((v) => String(Math.round(v))), size: 46,
      },
    ],
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    series: [{ label: 'Day' }, ...series.map((s) => ({
      label: s.label,
      stroke: s.colour,
      dash: s.dash,
      width: 2,
      fill: s.fill,
      points: { show: true, size: 5 },
      value: (u, v) => (v === null || v === undefined ? '—' : String(v)),
    }))],
  };
  const chart = new U(opts, data, box);
  charts.push(chart);
  if (typeof ResizeObserver === 'function') {
    let last = width();
    const ro = new ResizeObserver(() => {
      if (!route.isCurrent() || !box.isConnected) {
        ro.disconnect();
        drop(chart);
        return;
      }
      const w = width();
      if (w !== last) {
        last = w;
        chart.setSize({ width: w, height });
      }
    });
    ro.observe(box);
  }
  return chart;
}

/** A chart's place: heading, the drawing (an image with a name) and a pointer to its table. */
function chartBox(id, heading, description) {
  const box = h('div', { class: 'stats-chart', id, role: 'img', 'aria-label': description });
  return { box, el: h('figure', { class: 'card stats-figure' }, h('figcaption', {}, h('h3', {}, heading)), box) };
}

export async function render(main, route) {
  // Charts of a previous visit are dropped with their DOM.
  for (const c of charts.slice()) drop(c);
  const tz = tzOffset();
  const win = windowOf(route.params, tz);
  const companyId = route.params.get('company_id') || '';
  let companies = null;
  if (can('companies')) {
    try {
      const res = await api('/api/companies/', { query: { limit: 1000 } });
      companies = Array.isArray(res) ? res : (res && res.items) || [];
    } catch (_) {
      companies = [];
    }
  }
  if (!route.isCurrent()) return;
  const out = h('div', { class: 'stats-out' }, h('p', { class: 'muted' }, 'Counting…'));
  mount(main,
    title('Statistics'),
    filters(route, companies),
    h('p', { class: 'muted' }, `Counted by the server over what you can see, for ${win.label}; days are cut in your time zone (${tzLabel(tz)}).`),
    out);

  let stats;
  try {
    stats = await api('/api/statistics/', {
      query: { 'time_created.min': win.min, 'time_created.max': win.max, tz_offset: tz, company_id: companyId },
    });
  } catch (e) {
    if (route.isCurrent()) mount(out, errorBox(e));
    if (e && e.status === 401) throw e;
    return;
  }
  if (!route.isCurrent()) return;
  const d = dailySeries(stats, win);
  const l = stats.liveness;
  const q = stats.queue;

  const overview = h('dl', { class: 'stat-figs' },
    figure('Folders', String(stats.folders.total)),
    figure('Analyses', String(stats.analyses.total)),
    figure('QUALITY finished', String(l.finished)),
    figure('QUALITY declined by the system', String(l.system_declined)),
    figure('Analyses processing now', String(q.processing), `${q.waiting} waiting, ${q.running} running`));

  const liveness = section('Liveness against operator decisions',
    h('dl', { class: 'stat-figs' },
      figure('System SUCCESS', String(l.system_success)),
      figure('System DECLINED', String(l.system_declined)),
      figure('OPERATOR_REQUIRED', String(l.system_operator_required)),
      figure('FAILED', String(l.failed)),
      figure('Decided by operators', String(l.decided), `${l.operator_declined} as attacks, ${l.operator_success} as genuine`),
      figure('Missed attacks', String(l.missed_attacks), 'system SUCCESS, operator DECLINED'),
      figure('False rejects', String(l.false_rejects), 'system DECLINED, operator SUCCESS'),
      figure('APCER-style estimate', pct(l.apcer_estimate), `${l.missed_attacks} of ${l.operator_declined} labelled attacks`),
      figure('BPCER-style estimate', pct(l.bpcer_estimate), `${l.false_rejects} of ${l.operator_success} labelled genuine`)),
    h('p', { class: 'muted' }, 'Estimates from operator labels, not a laboratory APCER/BPCER: only the cases operators reviewed are labelled, and those are not a random sample.'));

  const queue = section('Queue now',
    h('dl', { class: 'stat-figs' },
      figure('Analyses processing', String(q.processing)),
      figure('Waiting for a worker', String(q.waiting)),
      figure('Running', String(q.running)),
      figure('Oldest processing', age(q.oldest_age_s)),
      figure('Webhooks pending', String(q.webhooks_pending))),
    h('p', { class: 'muted' }, 'The queue is counted now; the period above does not apply to it.'));

  const c1 = chartBox('chart-analyses', 'Analyses per day by type and outcome',
    'Line chart of analyses per day, one line per type and outcome. The numbers are in the table “Numbers per day” below.');
  const c2 = chartBox('chart-liveness', 'QUALITY analyses and declined ones per day',
    'Line chart of QUALITY analyses and of those the system declined, per day. The numbers are in the table “Numbers per day” below.');
  const c3 = chartBox('chart-folders', 'Folders per day',
    'Line chart of folders created per day. The numbers are in the table “Numbers per day” below.');
  const chartsNote = h('div', { class: 'stats-chart-note' });

  const perDayCols = [
    { label: 'Date', cell: (i) => dateOf(d.days[i]) },
    { label: 'Folders', class: 'num', cell: (i) => String(d.folders[i]) },
    { label: 'Analyses', class: 'num', cell: (i) => String(d.analyses[i]) },
    { label: 'QUALITY', class: 'num', cell: (i) => String(d.quality[i]) },
    { label: 'QUALITY declined', class: 'num', cell: (i) => String(d.qualityDeclined[i]) },
    ...d.keys.map((k) => ({ label: k.key, class: 'num', cell: (i) => String(d.byKey.get(k.key)[i]) })),
  ];
  // Only the days with folders or analyses (the charts draw every day of the period).
  const dayRows = d.days.map((_, i) => i).filter((i) => d.folders[i] > 0 || d.analyses[i] > 0).reverse();
  const tables = [
    section('Numbers per day',
      h('p', { class: 'muted' }, `Days with folders or analyses, newest first (${dayRows.length} of ${d.days.length}); the charts show every day.`),
      table(perDayCols, dayRows, { caption: 'Numbers per day', empty: 'No folders or analyses in this period.' })),
    section('Analyses by type and outcome', table([
      { label: 'Type', cell: (r) => r.type },
      { label: 'Outcome', cell: (r) => r.resolution_status },
      { label: 'Count', class: 'num', cell: (r) => String(r.count) },
    ], stats.analyses.per_type, { caption: 'Analyses by type and outcome', empty: 'No analyses in this period.' })),
    section('Folders by status', table([
      { label: 'Status', cell: (r) => r.resolution_status },
      { label: 'System resolution', cell: (r) => r.system_resolution },
      { label: 'Count', class: 'num', cell: (r) => String(r.count) },
    ], stats.folders.per_status, { caption: 'Folders by status', empty: 'No folders in this period.' })),
    section('Liveness and queue in numbers', table([
      { label: 'Measure', cell: (r) => r[0] },
      { label: 'Value', class: 'num', cell: (r) => r[1] },
    ], [
      ['QUALITY finished', String(l.finished)], ['QUALITY failed', String(l.failed)],
      ['QUALITY processing', String(l.processing)], ['System SUCCESS', String(l.system_success)],
      ['System DECLINED', String(l.system_declined)], ['System OPERATOR_REQUIRED', String(l.system_operator_required)],
      ['Decided by operators', String(l.decided)], ['Operators SUCCESS', String(l.operator_success)],
      ['Operators DECLINED', String(l.operator_declined)], ['Missed attacks', String(l.missed_attacks)],
      ['False rejects', String(l.false_rejects)],
      ['APCER-style estimate', l.apcer_estimate === null ? '—' : num(l.apcer_estimate, 6)],
      ['BPCER-style estimate', l.bpcer_estimate === null ? '—' : num(l.bpcer_estimate, 6)],
      ['Analyses processing', String(q.processing)], ['Waiting', String(q.waiting)], ['Running', String(q.running)],
      ['Oldest processing (seconds)', q.oldest_age_s === null ? '—' : String(q.oldest_age_s)],
      ['Webhooks pending', String(q.webhooks_pending)],
    ], { caption: 'Liveness and queue in numbers' })),
  ];
  if (stats.per_company) {
    tables.push(section('Per company', table([
      { label: 'Company', cell: (r) => r.name || (r.company_id ? r.company_id : 'No company') },
      { label: 'Folders', class: 'num', cell: (r) => String(r.folders) },
      { label: 'Analyses', class: 'num', cell: (r) => String(r.analyses) },
    ], stats.per_company, { caption: 'Per company', empty: 'Nothing in this period.' })));
  }

  mount(out,
    section('Overview', overview),
    liveness,
    queue,
    h('div', { class: 'stats-charts' }, c1.el, c2.el, c3.el),
    chartsNote,
    ...tables);

  let U;
  try {
    U = await loadUPlot();
  } catch (e) {
    if (route.isCurrent()) mount(chartsNote, errorBox(e), h('p', {}, 'The tables below hold every number.'));
    return;
  }
  if (!route.isCurrent()) return;
  const analysesSeries = d.keys.map((k) => ({
    label: k.key, colour: OUTCOME_COLOURS[k.status] || '#6a3d9a', dash: TYPE_DASH[k.type] || [4, 2],
  }));
  drawChart(U, c1.box, route, analysesSeries.length ? analysesSeries : [{ label: 'Analyses', colour: '#0b57d0', dash: [] }],
    [d.xs, ...(d.keys.length ? d.keys.map((k) => d.byKey.get(k.key)) : [d.analyses])]);
  drawChart(U, c2.box, route, [
    { label: 'QUALITY', colour: '#0b57d0', dash: [] },
    { label: 'QUALITY declined', colour: OUTCOME_COLOURS.DECLINED, dash: [6, 3] },
  ], [d.xs, d.quality, d.qualityDeclined]);
  drawChart(U, c3.box, route, [{ label: 'Folders', colour: '#0b57d0', dash: [], fill: 'rgba(11,87,208,0.08)' }], [d.xs, d.folders]);
}
