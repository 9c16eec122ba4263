import { Box, Text } from 'ink';
import type { PanelId } from '../../state/store.js';
import { oneLine } from '../sanitize.js';
import { useDashboard, useDashboardShallow } from './context.js';
import { grouped } from './format.js';
import { Line, Panel, Row } from './panel.js';

interface PanelLayout { lines: number; framed: boolean }

function useFocus(id: PanelId): boolean {
  return useDashboard((s) => s.ui.focus === id);
}

/** Items by state: pending, running, retrying, done, failed (and skipped repeats when there are any). */
export function QueuePanel({ lines, framed }: PanelLayout) {
  const c = useDashboardShallow((s) => s.counts);
  const focused = useFocus('queue');
  const rows: [string, number, string | undefined][] = [
    ['Pending', c.pending, undefined],
    ['Running', c.running, 'cyan'],
    ['Retrying', c.retrying, c.retrying > 0 ? 'yellow' : undefined],
    ['Done', c.done, 'green'],
    ['Failed', c.failed, c.failed > 0 ? 'red' : undefined],
  ];
  if (c.skipped > 0) rows.push(['Skipped', c.skipped, undefined]);
  return (
    <Panel title="Queue" lines={lines} framed={framed} focused={focused} gutter={3} share>
      {rows.slice(0, lines).map(([label, n, color]) => <Row key={label} label={label} value={grouped(n)} color={color} />)}
    </Panel>
  );
}

/** Pending items per priority tier, highest first: the order they will be dispatched in. */
export function PriorityPanel({ lines, framed }: PanelLayout) {
  const tiers = useDashboardShallow((s) => s.byPriority);
  const shown = tiers.length > lines ? tiers.slice(0, lines - 1) : tiers;
  const rest = tiers.slice(shown.length).reduce((n, t) => n + t.count, 0);
  return (
    <Panel title="By Priority" lines={lines} framed={framed} gutter={3} share>
      {tiers.length === 0 ? <Line dim>Nothing waiting</Line> : null}
      {shown.map((t) => <Row key={t.priority} label={`Tier ${t.priority > 0 ? '+' : ''}${t.priority}`} value={grouped(t.count)} />)}
      {rest > 0 ? <Row label={`${tiers.length - shown.length} lower tiers`} value={grouped(rest)} dim /> : null}
    </Panel>
  );
}

/** Pool size (live, and the target while it changes), busy/idle, crashes, replacements, timeouts; stages when several. */
export function WorkersPanel({ lines, framed }: PanelLayout) {
  const w = useDashboardShallow((s) => s.workers);
  const finished = useDashboard((s) => s.phase === 'finished');
  const focused = useFocus('workers');
  const stages = w.perStage.length > 1 ? w.perStage : [];
  // A finished run's pool is gone (size 0); "0 → N" would read as a resize under way.
  const heading = finished ? `Workers: ${w.target}, stopped` : `Workers: ${w.size}${w.target !== w.size ? ` → ${w.target}` : ''}`;
  return (
    <Panel title="Workers" lines={lines} framed={framed} focused={focused} share>
      <Line bold>{heading}</Line>
      <Row label="Busy / idle" value={`${w.busy} / ${Math.max(0, w.size - w.busy)}`} />
      <Row label="Crashes" value={grouped(w.crashes)} color={w.crashes > 0 ? 'red' : undefined} />
      <Row label="Replacements" value={grouped(w.replacements)} />
      <Row label="Timeouts" value={grouped(w.timeouts)} color={w.timeouts > 0 ? 'yellow' : undefined} />
      {stages.length > 0 ? <Line dim>Stages: busy/size, queued</Line> : null}
      {stages.map((st, i) => <Row key={i} label={oneLine(st.name)} value={`${st.busy}/${st.size}, ${grouped(st.queued)}`} />)}
    </Panel>
  );
}

/** The Queue, By Priority and Workers panels side by side. */
export function TopRow({ lines, framed }: PanelLayout) {
  return (
    <Box height={lines + (framed ? 3 : 1)}>
      <QueuePanel lines={lines} framed={framed} />
      <PriorityPanel lines={lines} framed={framed} />
      <WorkersPanel lines={lines} framed={framed} />
    </Box>
  );
}

/** Watch mode: the folders watched and the files seen so far. */
export function WatchPanel({ framed }: { framed: boolean }) {
  const w = useDashboardShallow((s) => ({ folders: s.watch?.folders ?? [], filesSeen: s.watch?.filesSeen ?? 0, last: s.watch?.recentFiles?.at(-1) ?? null }));
  const text = `${w.folders.map(oneLine).join(', ') || '(none)'}  ·  ${grouped(w.filesSeen)} file${w.filesSeen === 1 ? '' : 's'} seen${w.last ? `  ·  last: ${oneLine(w.last)}` : ''}`;
  if (framed) return <Panel title="Watching" lines={1} framed><Line>{text}</Line></Panel>;
  return (
    <Box height={1}>
      <Text wrap="truncate-end"><Text bold>Watching</Text>{`  ${text}`}</Text>
    </Box>
  );
}
