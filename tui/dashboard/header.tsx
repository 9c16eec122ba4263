import { Box, Text } from 'ink';
import type { RunStatus } from '../../state/store.js';
import { oneLine } from '../sanitize.js';
import { formatDuration } from '../report.js';
import { useDashboard, useDashboardShallow } from './context.js';
import { bar, clock, grouped, rate } from './format.js';
import { RedisStatus } from './machines.js';

const statusColor: Record<RunStatus, string> = { STARTING: 'gray', RUNNING: 'green', PAUSED: 'yellow', DRAINING: 'magenta', DONE: 'cyan' };

/** Pipeline, RUNNING/PAUSED/DRAINING/DONE, elapsed, and the SIMULATED label for loopback-provider runs. */
export function Header() {
  const h = useDashboardShallow((s) => ({ pipeline: s.pipeline, status: s.status, elapsedMs: s.elapsedMs, simulated: s.simulated, workers: s.workers.size, redis: s.redis }));
  return (
    <Box height={1} justifyContent="space-between">
      <Text wrap="truncate-end">
        <Text bold>{oneLine(h.pipeline)}</Text>
        {'  '}
        <Text bold color={statusColor[h.status]}>{h.status}</Text>
        {'  '}
        <Text>{clock(h.elapsedMs)}</Text>
        {h.simulated ? <Text bold color="magenta">{'  SIMULATED'}</Text> : null}
      </Text>
      <Text>
        {h.redis ? <><RedisStatus redis={h.redis} />{'  '}</> : null}
        <Text dimColor>{`workers ${h.workers}  pipeline-tui`}</Text>
      </Text>
    </Box>
  );
}

/** A bar over everything known so far, then done/total, percentage, rate and ETA. */
export function Progress({ width }: { width: number }) {
  const p = useDashboardShallow((s) => ({ ...s.counts, rate: s.rate, etaMs: s.etaMs, phase: s.phase }));
  const processed = p.done + p.failed + p.skipped;
  const total = Math.max(p.total, processed);
  const fraction = total > 0 ? processed / total : 0;
  const eta = p.phase === 'finished' ? 'done' : `ETA ${formatDuration(p.etaMs)}`;
  const text = ` ${grouped(processed)}/${grouped(total)}${p.totalKnown ? '' : '+'}  ${(fraction * 100).toFixed(1)}%  ${rate(p.rate)}  ${eta}`;
  const barWidth = Math.max(10, width - text.length);
  return (
    <Box height={1}>
      <Text wrap="truncate-end">
        <Text color={p.failed > 0 ? 'yellow' : 'green'}>{bar(fraction, barWidth)}</Text>
        {text}
      </Text>
    </Box>
  );
}

/** The latest notice (what a key just did), else the keys; at the end, how the run went. */
export function Footer() {
  const f = useDashboardShallow((s) => ({
    notice: s.notice?.text ?? null, phase: s.phase, stopping: s.ui.stopping, hold: s.hold, status: s.status, failure: s.failure,
    done: s.summary?.totals.done ?? 0, failed: s.summary?.totals.failed ?? 0, durationMs: s.summary?.durationMs ?? 0, stopped: s.summary?.status === 'stopped',
  }));
  let text: string;
  let color: string | undefined;
  if (f.notice) { text = oneLine(f.notice); color = 'yellow'; }
  else if (f.failure) { text = `Stopped: ${oneLine(f.failure)}`; color = 'red'; }
  else if (f.phase === 'finished') {
    text = `${f.stopped ? 'Stopped' : 'Finished'} in ${formatDuration(f.durationMs)}: ok ${grouped(f.done)}, failed ${grouped(f.failed)}${f.hold ? '.  q exit  ? help  Tab/Enter inspect errors' : ''}`;
    color = f.failed > 0 ? 'yellow' : 'green';
  } else if (f.stopping) { text = 'Stopping: running items finish, then checkpoint.  Ctrl-C: stop at once'; color = 'magenta'; }
  else text = `p ${f.status === 'PAUSED' ? 'resume' : 'pause'}  +/- workers  r retry  Tab panel  Enter open  ? help  q quit`;
  return <Box height={1}><Text wrap="truncate-end" color={color} dimColor={!color}>{text}</Text></Box>;
}
