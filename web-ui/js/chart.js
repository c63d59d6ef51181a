// Charts drawn as SVG by hand: a two-series line chart (allowed, refused)
// and a sparkline. No chart library: these two shapes are all the
// dashboard draws, and SVG keeps them sharp, accessible and CSP-clean.
import {compact} from './format.js';

const NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function timeLabel(ms, span) {
  const d = new Date(ms);
  if (span > 2 * 86400e3) return d.toLocaleDateString(undefined, {month: 'short', day: 'numeric'});
  return d.toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit'});
}

// series: [{name, cls, values: [{t, v}]}]; unit appended to y labels.
export function lineChart(series, {title, unit = '', height = 220} = {}) {
  const width = 720, left = 52, right = 12, top = 12, bottom = 28;
  const all = series.flatMap(x => x.values);
  const t0 = Math.min(...all.map(p => p.t)), t1 = Math.max(...all.map(p => p.t));
  const span = Math.max(1, t1 - t0);
  const yMax = niceMax(Math.max(0, ...all.map(p => p.v)));
  const x = t => left + ((t - t0) / span) * (width - left - right);
  const y = v => top + (1 - v / yMax) * (height - top - bottom);
  const svg = s('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'aria-label': title || 'chart', preserveAspectRatio: 'none'});
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    svg.append(s('line', {x1: left, x2: width - right, y1: y(v), y2: y(v), class: 'grid'}));
    svg.append(s('text', {x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis'}, compact(v) + unit));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (span * i) / 4;
    svg.append(s('text', {x: x(t), y: height - 8, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle', class: 'axis'}, timeLabel(t, span)));
  }
  for (const one of series) {
    if (!one.values.length) continue;
    const d = one.values.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
    svg.append(s('path', {d, class: `line ${one.cls}`}, s('title', {}, one.name)));
  }
  const legend = document.createElement('div');
  legend.className = 'legend';
  for (const one of series) {
    const item = document.createElement('span');
    item.className = `key ${one.cls}`;
    item.textContent = one.name;
    legend.append(item);
  }
  const wrap = document.createElement('figure');
  wrap.className = 'chart-wrap';
  wrap.append(svg, legend);
  return wrap;
}

// A small line of values (no axes), for tables.
export function sparkline(values, label) {
  const width = 100, height = 24;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const d = values.map((v, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join('');
  return s('svg', {viewBox: `0 0 ${width} ${height}`, class: 'spark', role: 'img', 'aria-label': label, width, height},
    s('path', {d: d || 'M0,22L100,22', class: 'line refused'}));
}
