// Prometheus text exposition (format 0.0.4) of what the dashboard shows, on `--metrics-port`.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { messages } from './errors.js';
import type { EngineStats, MachineStats } from './types.js';

export interface Sample { labels?: Record<string, string | number>; value: number }
export interface MetricFamily { name: string; help: string; type: 'gauge' | 'counter'; samples: Sample[] }

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function renderMetrics(families: MetricFamily[]): string {
  let out = '';
  for (const f of families) {
    if (f.samples.length === 0) continue;
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const l = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(',')}}`;
      out += `${f.name}${l} ${formatValue(s.value)}\n`;
    }
  }
  return out;
}

const family = (name: string, type: MetricFamily['type'], help: string, samples: Sample[]): MetricFamily => ({ name: `pipeline_tui_${name}`, help, type, samples });

/** Per-machine families of a distributed run; the `worker` command exports its own machine with them too. */
export function machineMetrics(pipeline: string, machines: MachineStats[]): MetricFamily[] {
  const l = (m: MachineStats) => ({ pipeline, machine: m.id, host: m.host, pid: m.pid, role: m.role });
  return [
    family('machine_up', 'gauge', 'Whether the machine announced itself in the last few seconds.', machines.map((m) => ({ labels: l(m), value: m.up ? 1 : 0 }))),
    family('machine_workers', 'gauge', 'Worker threads of the machine.', machines.map((m) => ({ labels: l(m), value: m.workers }))),
    family('machine_busy_workers', 'gauge', 'Busy worker threads of the machine.', machines.map((m) => ({ labels: l(m), value: m.busy }))),
    family('machine_items_total', 'counter', 'Attempts the machine finished in this run, by result.', machines.flatMap((m) => [{ labels: { ...l(m), result: 'done' }, value: m.done }, { labels: { ...l(m), result: 'failed' }, value: m.failed }])),
    family('machine_items_per_second', 'gauge', 'Items per second the machine finished over the last ~10 s.', machines.map((m) => ({ labels: l(m), value: m.rate }))),
  ];
}

/** Everything engine.stats() reports, for local and distributed runs alike. */
export function engineMetrics(s: EngineStats): MetricFamily[] {
  const p = { pipeline: s.pipeline };
  const c = s.counts;
  const families: MetricFamily[] = [
    family('info', 'gauge', 'The run: state, whether providers are simulated, whether it is distributed.', [{ labels: { ...p, state: s.state, simulated: String(s.simulated), distributed: String(s.redis !== undefined) }, value: 1 }]),
    family('items', 'gauge', 'Items by state (done and failed include earlier runs of the same state).', (['total', 'done', 'failed', 'skipped', 'pending', 'running', 'retrying'] as const).map((k) => ({ labels: { ...p, state: k }, value: c[k] }))),
    family('throughput_items_per_second', 'gauge', 'Items finished per second over the last ~10 s.', [{ labels: p, value: Math.round(s.rate * 100) / 100 }]),
    family('eta_seconds', 'gauge', 'Estimated time to finish.', s.etaMs === null ? [] : [{ labels: p, value: Math.round(s.etaMs / 1000) }]),
    family('elapsed_seconds', 'gauge', 'Time since the run started.', [{ labels: p, value: Math.round(s.elapsedMs / 1000) }]),
    family('workers', 'gauge', 'Worker threads per stage (on every machine, for a distributed run).', s.workers.perStage.map((w) => ({ labels: { ...p, stage: w.name }, value: w.size }))),
    family('workers_busy', 'gauge', 'Busy worker threads per stage.', s.workers.perStage.map((w) => ({ labels: { ...p, stage: w.name }, value: w.busy }))),
    family('queued_items', 'gauge', 'Items waiting for a worker, per stage.', s.workers.perStage.map((w) => ({ labels: { ...p, stage: w.name }, value: w.queued }))),
    family('worker_crashes_total', 'counter', 'Worker threads that crashed.', [{ labels: p, value: s.workers.crashes }]),
    family('worker_timeouts_total', 'counter', 'Worker threads replaced after an item timed out.', [{ labels: p, value: s.workers.timeouts }]),
    family('processing_milliseconds', 'gauge', 'Processing time per item attempt.', (['min', 'avg', 'p50', 'p95', 'max'] as const).map((k) => ({ labels: { ...p, stat: k }, value: Math.round(s.processingMs[k] * 100) / 100 }))),
    family('errors_total', 'counter', 'Failed attempts by category.', Object.entries(s.errors.byCategory).map(([category, n]) => ({ labels: { ...p, category }, value: n }))),
  ];
  const prov = Object.entries(s.providers);
  const pl = (name: string) => ({ ...p, provider: name });
  families.push(
    family('provider_requests_total', 'counter', 'Requests sent to the provider (retries included).', prov.map(([n, u]) => ({ labels: pl(n), value: u.requests }))),
    family('provider_tokens_total', 'counter', 'Tokens used, by direction.', prov.flatMap(([n, u]) => [{ labels: { ...pl(n), direction: 'input' }, value: u.inputTokens }, { labels: { ...pl(n), direction: 'output' }, value: u.outputTokens }])),
    family('provider_rate_limited_total', 'counter', '429 answers.', prov.map(([n, u]) => ({ labels: pl(n), value: u.rateLimited }))),
    family('provider_retries_total', 'counter', 'Retried requests.', prov.map(([n, u]) => ({ labels: pl(n), value: u.retries }))),
    family('provider_requests_last_minute', 'gauge', 'Requests started in the last 60 s (across all machines for a distributed run).', prov.map(([n, u]) => ({ labels: pl(n), value: u.currentRpm }))),
    family('provider_limit_rpm', 'gauge', 'The configured requests-per-minute limit.', prov.filter(([, u]) => u.limitRpm !== null).map(([n, u]) => ({ labels: pl(n), value: u.limitRpm! }))),
    family('provider_latency_milliseconds', 'gauge', 'Provider latency.', prov.flatMap(([n, u]) => [{ labels: { ...pl(n), stat: 'p50' }, value: u.latencyP50 }, { labels: { ...pl(n), stat: 'p95' }, value: u.latencyP95 }])),
  );
  if (s.redis) families.push(family('redis_connected', 'gauge', 'Whether the Redis connection is up (0 while reconnecting).', [{ labels: { ...p, url: s.redis.url, status: s.redis.status }, value: s.redis.status === 'connected' ? 1 : 0 }]));
  if (s.machines) families.push(...machineMetrics(s.pipeline, s.machines));
  return families;
}

export interface MetricsServer { readonly port: number; close(): Promise<void> }

/**
 * Serves `GET /metrics` (and `/`) on every interface, as exporters do, so a Prometheus elsewhere can scrape
 * each machine of a distributed run. Fails with exit 2 when the port is taken.
 */
export async function serveMetrics(port: number, collect: () => MetricFamily[]): Promise<MetricsServer> {
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw messages.usage(`Expected --metrics-port to be a port number (0-65535), got ${port}`);
  // node:http loads on use: the engine imports this module for every run, few serve metrics.
  const { createServer } = await import('node:http');
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) { res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: try /metrics\n'); return; }
    let body: string;
    try { body = renderMetrics(collect()); } catch (e) { res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`); return; }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(messages.usage(`Cannot serve metrics on port ${port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`, 'Pick another --metrics-port.')));
    server.listen(port, () => resolve());
  });
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
