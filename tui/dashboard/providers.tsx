import { Box, Text } from 'ink';
import type { ProviderRow } from '../../state/store.js';
import { oneLine } from '../sanitize.js';
import { useDashboard, useDashboardShallow } from './context.js';
import { bar, compact, latency } from './format.js';
import { Line, Panel } from './panel.js';

interface Column {
  title: string;
  width: number;
  /** Lower drops first when the terminal is narrow. */
  keep: number;
  cell(p: ProviderRow): string;
}

const GAUGE = 10;

const columns: Column[] = [
  { title: 'Req', width: 7, keep: 9, cell: (p) => compact(p.requests) },
  { title: 'Tok in/out', width: 13, keep: 5, cell: (p) => `${compact(p.inputTokens)}/${compact(p.outputTokens)}` },
  { title: 'Rate rpm', width: GAUGE + 11, keep: 8, cell: (p) => `${compact(p.currentRpm)}/${p.limitRpm === null ? '-' : compact(p.limitRpm)}` },
  { title: '429s', width: 6, keep: 7, cell: (p) => compact(p.rateLimited) },
  { title: 'p50/p95', width: 13, keep: 6, cell: (p) => (p.requests === 0 ? '-' : `${latency(p.latencyP50)}/${latency(p.latencyP95)}`) },
  { title: 'Retry/err', width: 11, keep: 2, cell: (p) => `${compact(p.retries)}/${compact(p.errors)}` },
  { title: 'Fallbk', width: 8, keep: 4, cell: (p) => compact(p.fallbacks) },
];

/** The columns that fit `width` after a name column, in their screen order. */
export function fitColumns(width: number, nameWidth: number): Column[] {
  const chosen = new Set<Column>();
  let used = nameWidth;
  for (const c of [...columns].sort((a, b) => b.keep - a.keep)) {
    if (used + c.width <= width) { chosen.add(c); used += c.width; }
  }
  return columns.filter((c) => chosen.has(c));
}

function gaugeColor(fraction: number): string {
  return fraction >= 0.9 ? 'red' : fraction >= 0.7 ? 'yellow' : 'green';
}

function ProviderLine({ p, cols, nameWidth }: { p: ProviderRow; cols: Column[]; nameWidth: number }) {
  const fraction = p.limitRpm === null ? 0 : p.currentRpm / p.limitRpm;
  return (
    <Box height={1}>
      <Text wrap="truncate-end">
        {oneLine(p.name).slice(0, nameWidth - 1).padEnd(nameWidth)}
        {cols.map((c) => c.title === 'Rate rpm'
          ? (
            <Text key={c.title}>
              {' '}
              <Text color={p.limitRpm === null ? 'gray' : gaugeColor(fraction)}>{p.limitRpm === null ? '·'.repeat(GAUGE) : bar(fraction, GAUGE)}</Text>
              {c.cell(p).padStart(c.width - GAUGE - 1)}
            </Text>
          )
          : <Text key={c.title} color={c.title === '429s' && p.rateLimited > 0 ? 'yellow' : undefined}>{c.cell(p).padStart(c.width)}</Text>)}
      </Text>
    </Box>
  );
}

/**
 * Requests, tokens in/out, current rate against the limit as a gauge, 429s, latency p50/p95, fallbacks.
 * Says "No provider calls yet" until the engine reports providers in its stats.
 */
export function ProvidersPanel({ rows, framed, width }: { rows: number; framed: boolean; width: number }) {
  const providers = useDashboardShallow((s) => s.providers ?? []);
  const focused = useDashboard((s) => s.ui.focus === 'providers');
  const inner = width - (framed ? 4 : 0);
  const nameWidth = Math.min(16, Math.max(10, ...providers.map((p) => oneLine(p.name).length + 2)));
  const cols = fitColumns(inner, nameWidth);
  const shown = providers.length > rows ? providers.slice(0, Math.max(0, rows - 1)) : providers;
  const hidden = providers.length - shown.length;
  const lines = providers.length === 0 ? 1 : 1 + rows;
  return (
    <Panel title="Providers" lines={lines} framed={framed} focused={focused}>
      {providers.length === 0 ? <Line dim>No provider calls yet</Line> : (
        <>
          <Line dim>{'Provider'.padEnd(nameWidth) + cols.map((c) => c.title.padStart(c.width)).join('')}</Line>
          {shown.map((p) => <ProviderLine key={p.name} p={p} cols={cols} nameWidth={nameWidth} />)}
          {hidden > 0 ? <Line dim>{`+${hidden} more provider${hidden === 1 ? '' : 's'}`}</Line> : null}
        </>
      )}
    </Panel>
  );
}
