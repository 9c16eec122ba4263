// How many lines each panel gets for a terminal size. Pure, so every size can be tested without a screen.
// The plan never uses the last row: an Ink frame as tall as the terminal makes Ink clear the whole screen
// on every update (flicker), and a taller one scrolls away.

export const MIN_COLUMNS = 60;
export const MIN_ROWS = 16;

export interface LayoutInput {
  columns: number;
  rows: number;
  /** Providers reporting (0: the panel says so in one line). */
  providers: number;
  stages: number;
  watch: boolean;
  /** Machines of a distributed run (0: a local run, no Machines panel). @default 0 */
  machines?: number;
}

export interface LayoutPlan {
  tooSmall: boolean;
  /** The smallest terminal this content fits in. */
  need: { columns: number; rows: number };
  columns: number;
  rows: number;
  /** Panels drawn with borders (roomy terminals) or as a title line and content (compact). */
  framed: boolean;
  /** A blank line under the progress bar. */
  gap: boolean;
  /** Content lines of the Queue / Priority / Workers row. */
  topLines: number;
  providerRows: number;
  /** Machine lines of the Machines panel (0: no panel). */
  machineRows: number;
  errorLines: number;
  /** 0: the sparkline sits on the panel's title line. */
  sparkHeight: number;
  /** 0: no Logs panel. */
  logLines: number;
  /** Lines the whole frame takes (at most rows - 1). */
  height: number;
}

const QUEUE_LINES = 5;

function plan(i: LayoutInput, framed: boolean): LayoutPlan | undefined {
  const budget = i.rows - 1;
  const f = framed ? 2 : 0;
  const panel = (content: number) => f + 1 + content;
  const fixed = 3; // header, progress, footer
  const watch = i.watch ? (framed ? panel(1) : 1) : 0;
  const providersMin = panel(i.providers === 0 ? 1 : 2);
  let topLines = QUEUE_LINES;
  let providerRows = i.providers === 0 ? 0 : 1;
  const machines = i.machines ?? 0;
  let machineRows = machines > 0 ? 1 : 0;
  let errorLines = 1;
  let sparkHeight = framed ? 1 : 0;
  let logLines = 0;
  let gap = false;
  const used = () => fixed + (gap ? 1 : 0) + panel(topLines) + watch + (i.providers === 0 ? providersMin : panel(1 + providerRows)) +
    (machineRows > 0 ? panel(1 + machineRows) : 0) + panel(errorLines) + (framed ? panel(sparkHeight) : sparkHeight === 0 ? 1 : 1 + sparkHeight) + (logLines > 0 ? panel(logLines) : 0);
  if (used() > budget) return undefined;
  const grow = (apply: () => void, undo: () => void): boolean => { apply(); if (used() <= budget) return true; undo(); return false; };
  if (!framed) grow(() => { gap = true; }, () => { gap = false; });
  while (providerRows < Math.min(i.providers, 8) && grow(() => providerRows++, () => providerRows--));
  while (machineRows < Math.min(machines, 6) && grow(() => machineRows++, () => machineRows--));
  while (errorLines < 5 && grow(() => errorLines++, () => errorLines--));
  const stageLines = i.stages > 1 ? Math.min(i.stages, 4) + 1 : 0;
  while (topLines < QUEUE_LINES + stageLines && grow(() => topLines++, () => topLines--));
  if (framed) { while (sparkHeight < 3 && grow(() => sparkHeight++, () => sparkHeight--)); }
  else if (i.rows >= 28) grow(() => { sparkHeight = 2; }, () => { sparkHeight = 0; });
  if (grow(() => { logLines = 2; }, () => { logLines = 0; })) while (logLines < 8 && grow(() => logLines++, () => logLines--));
  while (errorLines < 12 && grow(() => errorLines++, () => errorLines--));
  return { tooSmall: false, need: minimumSize(i), columns: i.columns, rows: i.rows, framed, gap, topLines, providerRows, machineRows, errorLines, sparkHeight, logLines, height: used() };
}

/** Header, progress, footer, the Queue row, one line each of Providers, Machines, Errors and Throughput; a Watch line. */
export function minimumSize(i: Pick<LayoutInput, 'providers' | 'watch' | 'machines'>): { columns: number; rows: number } {
  const lines = 3 + (1 + QUEUE_LINES) + (i.watch ? 1 : 0) + (i.providers === 0 ? 2 : 3) + ((i.machines ?? 0) > 0 ? 3 : 0) + 2 + 1;
  return { columns: MIN_COLUMNS, rows: Math.max(MIN_ROWS, lines + 1) };
}

/** The plan for a terminal; `tooSmall` when even the compact layout does not fit. */
export function planLayout(i: LayoutInput): LayoutPlan {
  const need = minimumSize(i);
  const tooSmall: LayoutPlan = { tooSmall: true, need, columns: i.columns, rows: i.rows, framed: false, gap: false, topLines: 0, providerRows: 0, machineRows: 0, errorLines: 0, sparkHeight: 0, logLines: 0, height: 2 };
  if (i.columns < need.columns || i.rows < need.rows) return tooSmall;
  const roomy = i.columns >= 90 && i.rows >= 34;
  return (roomy ? plan(i, true) : undefined) ?? plan(i, false) ?? tooSmall;
}
