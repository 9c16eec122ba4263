import { Box, Text } from 'ink';
import type { AttemptError } from '../../engine/types.js';
import { oneLine, safeLines } from '../sanitize.js';
import { useDashboard, useDashboardShallow } from './context.js';
import { grouped, timeOfDay } from './format.js';
import { Line, Panel } from './panel.js';

const categoryColor: Record<string, string> = { transient: 'yellow', provider: 'yellow', timeout: 'magenta', crash: 'red', permanent: 'red', parse: 'red', permission: 'red' };

/** The item id, when the engine includes it with the error (read defensively: not every version does). */
function itemId(e: AttemptError & { id?: string }): string | null {
  return typeof e.id === 'string' ? e.id : null;
}

function where(e: AttemptError): string {
  return e.file ? `${e.file}${e.line ? `:${e.line}` : ''}` : '';
}

/** Counts by category in the title; the latest errors below, one line each, newest first. */
export function ErrorsPanel({ lines, framed }: { lines: number; framed: boolean }) {
  const e = useDashboardShallow((s) => ({ total: s.errors.total, byCategory: s.errors.byCategory, recent: s.errors.recent, selected: s.ui.selected }));
  const focused = useDashboard((s) => s.ui.focus === 'errors');
  const aside = e.total === 0 ? '' : `${grouped(e.total)}: ${e.byCategory.map((c) => `${oneLine(c.category)} ${grouped(c.count)}`).join(' · ')}`;
  const first = focused ? Math.max(0, Math.min(e.selected - lines + 1, e.recent.length - lines)) : 0;
  return (
    <Panel title="Errors" lines={lines} framed={framed} focused={focused} aside={aside}>
      {e.recent.length === 0 ? <Line dim>No errors</Line> : null}
      {e.recent.slice(first, first + lines).map((err, i) => {
        const index = first + i;
        const picked = focused && index === e.selected;
        const id = itemId(err);
        return (
          <Box key={index} height={1}>
            <Text wrap="truncate-end" inverse={picked}>
              <Text dimColor>{`${picked ? '›' : ' '}${timeOfDay(err.at)} `}</Text>
              <Text color={categoryColor[err.category] ?? 'red'}>{oneLine(err.code)}</Text>
              {` ${id ? `${oneLine(id)}: ` : ''}${oneLine(err.message)}`}
            </Text>
          </Box>
        );
      })}
    </Panel>
  );
}

/** One error in full (Enter on the Errors panel): every field, and the whole message over several lines. */
export function ErrorDetail({ height }: { height: number }) {
  const d = useDashboardShallow((s) => ({ err: s.errors.recent[s.ui.selected] ?? null, index: s.ui.selected, count: s.errors.recent.length }));
  const err = d.err;
  if (!err) return <Box height={height}><Text dimColor>No error picked. Esc to go back.</Text></Box>;
  const id = itemId(err);
  const fields: [string, string][] = [
    ['Code', oneLine(err.code)],
    ['Category', oneLine(err.category)],
    ...(id ? [['Item', oneLine(id)] as [string, string]] : []),
    ['Attempt', String(err.attempt)],
    ['Stage', String(err.stage)],
    ['When', oneLine(err.at)],
    ...(where(err) ? [['Where', oneLine(where(err))] as [string, string]] : []),
  ];
  return (
    <Box flexDirection="column" height={height}>
      <Line bold color="cyan">{`Error ${d.index + 1} of ${d.count}   Up/Down: other errors   Esc: back`}</Line>
      {fields.map(([k, v]) => <Line key={k}><Text dimColor>{k.padEnd(10)}</Text>{v}</Line>)}
      <Line dim>Message</Line>
      <Box flexDirection="column">
        {safeLines(err.message).map((l, i) => <Text key={i} wrap="wrap">{l === '' ? ' ' : l}</Text>)}
      </Box>
    </Box>
  );
}
