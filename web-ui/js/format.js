// Numbers and times for people: 1.2k/s, "3 min ago", local times.

export function compact(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const abs = Math.abs(n);
  const fmt = (v, s) => `${v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, '')}${s}`;
  if (abs >= 1e9) return fmt(n / 1e9, 'G');
  if (abs >= 1e6) return fmt(n / 1e6, 'M');
  if (abs >= 1e3) return fmt(n / 1e3, 'k');
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(abs >= 10 ? 0 : 1).replace(/\.0$/, '');
}

export const perSecond = n => `${compact(n)}/s`;

export function percent(ratio) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return '–';
  if (ratio > 0 && ratio < 0.001) return '<0.1%';
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`;
}

export function toMillis(t) {
  if (t === null || t === undefined) return null;
  return typeof t === 'number' ? t : Date.parse(t);
}

export function ago(t, now = Date.now()) {
  const ms = toMillis(t);
  if (ms === null || Number.isNaN(ms)) return 'never';
  const s = Math.round((now - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

// A time in the viewer's zone, e.g. "3 Dec 2026, 23:41:07".
export function localTime(t) {
  const ms = toMillis(t);
  if (ms === null || Number.isNaN(ms)) return '–';
  return new Date(ms).toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'medium'});
}

export function matchText(match) {
  const entries = Object.entries(match || {});
  if (!entries.length) return '(every check)';
  return entries.map(([k, v]) => `${k}=${v}`).join(', ');
}
