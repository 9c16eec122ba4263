import { Text } from 'ink';
import type { MachineStats } from '../../engine/types.js';
import type { RedisInfo } from '../../state/store.js';
import { oneLine } from '../sanitize.js';
import { useDashboard, useDashboardShallow } from './context.js';
import { compact, rate } from './format.js';
import { Line, Panel } from './panel.js';

const redisColor: Record<RedisInfo['status'], string> = { connected: 'green', connecting: 'yellow', reconnecting: 'yellow', closed: 'red' };

/** "Redis: reconnecting" in the colour of its state; also used by the header when the connection is not up. */
export function RedisStatus({ redis }: { redis: RedisInfo }) {
  return <Text color={redisColor[redis.status]}>{`Redis: ${redis.status}`}</Text>;
}

const HOST = 22;
const cells = (m: MachineStats): string[] => [
  m.role === 'coordinator' ? 'coord' : 'worker',
  m.up ? `${m.busy}/${m.workers}` : 'gone',
  compact(m.done),
  compact(m.failed),
  m.up ? rate(m.rate) : '-',
];
const widths = [8, 9, 8, 8, 10];
const titles = ['Role', 'Busy', 'Done', 'Failed', 'Rate'];

function MachineLine({ m }: { m: MachineStats }) {
  const text = `${oneLine(`${m.host}:${m.pid}`).slice(0, HOST - 1).padEnd(HOST)}${cells(m).map((c, i) => c.padStart(widths[i]!)).join('')}`;
  return <Line dim={!m.up} color={m.up ? undefined : 'gray'}>{text}</Line>;
}

/**
 * Distributed runs: every machine serving the run (host:pid, role, busy/threads, items it finished, its
 * items/s over the last seconds), with the Redis connection's state beside the title.
 */
export function MachinesPanel({ rows, framed }: { rows: number; framed: boolean }) {
  const machines = useDashboardShallow((s) => s.machines ?? []);
  const redis = useDashboard((s) => s.redis);
  const shown = machines.length > rows ? machines.slice(0, Math.max(0, rows - 1)) : machines;
  const hidden = machines.length - shown.length;
  const up = machines.filter((m) => m.up).length;
  return (
    <Panel title="Machines" aside={`${up} up${redis ? `  Redis: ${redis.status}` : ''}`} lines={1 + rows} framed={framed}>
      <Line dim>{'Host:pid'.padEnd(HOST) + titles.map((t, i) => t.padStart(widths[i]!)).join('')}</Line>
      {shown.map((m) => <MachineLine key={m.id} m={m} />)}
      {hidden > 0 ? <Line dim>{`+${hidden} more machine${hidden === 1 ? '' : 's'}`}</Line> : null}
    </Panel>
  );
}
