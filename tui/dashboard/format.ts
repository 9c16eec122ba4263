// Pure text helpers for the dashboard: numbers, bars, gauges, sparklines. No React here.

/** 950, 1.2k, 34k, 1.2M */
export function compact(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n));
  if (a < 10_000) return `${(n / 1000).toFixed(1)}k`;
  if (a < 1_000_000) return `${Math.round(n / 1000)}k`;
  if (a < 10_000_000) return `${(n / 1_000_000).toFixed(1)}M`;
  return `${Math.round(n / 1_000_000)}M`;
}

/** 1,234,567. By hand: toLocaleString goes through ICU on every call, a visible share of a frame's cost. */
export function grouped(n: number): string {
  const r = Math.round(n);
  if (!Number.isSafeInteger(r)) return r.toLocaleString('en-US');
  return String(r).replace(/\B(?=(\d{3})+$)/g, ',');
}

export function rate(perSecond: number): string {
  if (!(perSecond > 0)) return '0/s';
  return perSecond >= 100 ? `${grouped(perSecond)}/s` : `${perSecond.toFixed(1)}/s`;
}

/** Elapsed time as a clock: 0:07, 12:04, 1:02:03. */
export function clock(ms: number): string {
  const t = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Milliseconds as a latency: 12 ms, 1.4 s. */
export function latency(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** "5s ago", "3m ago", "2h ago", "4d ago" from an ISO time. */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return 'unknown time';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return 'unknown time';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86_400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/** HH:MM:SS of an ISO time, or '' */
export function timeOfDay(iso: string): string {
  const m = /T(\d\d:\d\d:\d\d)/.exec(iso);
  return m ? m[1]! : '';
}

/** A horizontal bar of `width` cells, filled to `fraction` with eighth-cell precision. */
export function bar(fraction: number, width: number): string {
  const w = Math.max(0, Math.floor(width));
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const eighths = Math.round(f * w * 8);
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  const partial = part > 0 ? '▏▎▍▌▋▊▉'[part - 1]! : '';
  return ('█'.repeat(full) + partial).padEnd(w, '░').slice(0, w);
}

const sparks = ' ▁▂▃▄▅▆▇█';

/**
 * The last `width` columns of `perSecond`, each column the average of `secondsPerColumn` seconds, drawn
 * `height` rows tall (top row first). Scaled to the largest column shown.
 */
export function sparkline(perSecond: number[], width: number, height = 1, secondsPerColumn = 1): { rows: string[]; max: number } {
  const w = Math.max(1, Math.floor(width));
  const k = Math.max(1, Math.floor(secondsPerColumn));
  const cols: number[] = [];
  for (let end = perSecond.length; end > 0 && cols.length < w; end -= k) {
    const slice = perSecond.slice(Math.max(0, end - k), end);
    cols.unshift(slice.reduce((a, b) => a + b, 0) / slice.length);
  }
  const max = Math.max(0, ...cols);
  const levels = height * 8;
  const rows: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    let line = '';
    for (const v of cols) {
      const level = max > 0 ? Math.round((v / max) * levels) : 0;
      const inRow = Math.min(8, Math.max(0, level - r * 8));
      line += v > 0 && r === 0 && inRow === 0 ? sparks[1] : sparks[inRow];
    }
    rows.push(line.padStart(w, ' '));
  }
  return { rows, max };
}
