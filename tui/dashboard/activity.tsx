import { Box, Text } from 'ink';
import { oneLine } from '../sanitize.js';
import { useDashboard } from './context.js';
import { compact, sparkline, timeOfDay } from './format.js';
import { Line, Panel } from './panel.js';

/** The sparkline spans up to this much history, more seconds per column on narrow terminals. */
const SPAN_SECONDS = 300;

function span(seconds: number): string {
  return seconds >= 120 ? `${Math.round(seconds / 60)}m` : `${seconds}s`;
}

/** Items finished per second over the last minutes: one row on compact screens, several on roomy ones. */
export function ThroughputPanel({ height, framed, width }: { height: number; framed: boolean; width: number }) {
  const perSecond = useDashboard((s) => s.throughput.perSecond);
  const focused = useDashboard((s) => s.ui.focus === 'throughput');
  const title = 'Throughput';
  const inner = width - (framed ? 4 : 0);
  const summaryFor = (cols: number, k: number, max: number) => {
    const seconds = Math.min(perSecond.length, cols * k);
    const last = perSecond.at(-1) ?? 0;
    return perSecond.length === 0 ? 'collecting…' : `now ${compact(last)}/s  peak ${compact(max)}/s  last ${span(seconds)}`;
  };
  if (!framed && height === 0) {
    const sparkWidth = Math.max(10, inner - title.length - 40);
    const k = Math.max(1, Math.ceil(Math.min(perSecond.length, SPAN_SECONDS) / sparkWidth));
    const s = sparkline(perSecond, sparkWidth, 1, k);
    return (
      <Box height={1}>
        <Text wrap="truncate-end">
          <Text bold inverse={focused} color={focused ? 'cyan' : undefined}>{title}</Text>
          {' '}<Text color="cyan">{s.rows[0]}</Text>
          <Text dimColor>{`  ${summaryFor(sparkWidth, k, s.max)}`}</Text>
        </Text>
      </Box>
    );
  }
  const k = Math.max(1, Math.ceil(Math.min(perSecond.length, SPAN_SECONDS) / inner));
  const s = sparkline(perSecond, inner, Math.max(1, height), k);
  return (
    <Panel title={title} lines={Math.max(1, height)} framed={framed} focused={focused} aside={summaryFor(inner, k, s.max)}>
      {s.rows.map((r, i) => <Line key={i} color="cyan">{r}</Line>)}
    </Panel>
  );
}

/** The latest ctx.log lines, newest last. */
export function LogsPanel({ lines, framed }: { lines: number; framed: boolean }) {
  const logs = useDashboard((s) => s.logs);
  const focused = useDashboard((s) => s.ui.focus === 'logs');
  const shown = logs.slice(-lines);
  return (
    <Panel title="Logs" lines={lines} framed={framed} focused={focused}>
      {shown.length === 0 ? <Line dim>No log lines yet (ctx.log)</Line> : null}
      {shown.map((l, i) => (
        <Box key={i} height={1}>
          <Text wrap="truncate-end"><Text dimColor>{`${timeOfDay(l.time)} `}</Text>{`${l.id ? `${oneLine(l.id)}: ` : ''}${oneLine(l.message)}`}</Text>
        </Box>
      ))}
    </Panel>
  );
}
