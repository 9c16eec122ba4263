import type { MachineStats } from '../types.js';
import type { MachineReport } from './registry.js';

/** Per-machine bookkeeping of the coordinator: what each machine announces, and what it finished. */
export class MachineBook {
  /** Counted from the results this coordinator collected, by the machine that produced them. */
  private readonly counts = new Map<string, { done: number; failed: number; samples: { t: number; n: number }[] }>();
  private reports: MachineReport[] = [];
  /** Every machine seen during the run, so one that went away stays listed (as gone). */
  private readonly seen = new Map<string, MachineReport>();

  constructor(private readonly self: string) {}

  counted(by: string, ok: boolean): void {
    let c = this.counts.get(by);
    if (!c) { c = { done: 0, failed: 0, samples: [] }; this.counts.set(by, c); }
    if (ok) c.done++; else c.failed++;
  }

  /** The machines announced right now (from the registry), for the run served. */
  announced(reports: MachineReport[]): void {
    this.reports = reports;
    for (const r of reports) this.seen.set(r.id, r);
  }

  /** About once a second: the rates are over the last ~10 s of these samples. */
  sample(now: number): void {
    for (const c of this.counts.values()) {
      c.samples.push({ t: now, n: c.done + c.failed });
      while (c.samples.length > 2 && now - c.samples[0]!.t > 10_000) c.samples.shift();
    }
  }

  /** The other machines' threads for one stage (crashes and timeouts are per machine: counted at stage 0). */
  remote(stage: number): { workers: number; busy: number; crashes: number; timeouts: number } {
    const out = { workers: 0, busy: 0, crashes: 0, timeouts: 0 };
    for (const r of this.reports) {
      if (r.id === this.self) continue;
      const s = r.stages[stage];
      out.workers += s?.workers ?? 0;
      out.busy += s?.busy ?? 0;
      if (stage === 0) { out.crashes += r.crashes; out.timeouts += r.timeouts; }
    }
    return out;
  }

  /** Every machine of the run, this one (`local`, always fresh) included. */
  stats(local: MachineReport): MachineStats[] {
    const up = new Map(this.reports.map((r) => [r.id, r] as const));
    up.set(local.id, local);
    const ids = new Set([...up.keys(), ...this.seen.keys(), ...this.counts.keys()]);
    return [...ids].sort().map((id) => {
      const live = up.get(id);
      const r = live ?? this.seen.get(id);
      const c = this.counts.get(id);
      const at = id.lastIndexOf(':');
      return {
        id, host: r?.host ?? id.slice(0, at), pid: r?.pid ?? Number(id.slice(at + 1)), role: r?.role ?? 'worker', up: live !== undefined,
        workers: live?.workers ?? 0, busy: live?.busy ?? 0, done: c?.done ?? 0, failed: c?.failed ?? 0, rate: c ? rateOf(c.samples) : 0,
      };
    });
  }
}

function rateOf(samples: { t: number; n: number }[]): number {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || last.t - first.t < 500) return 0;
  return Math.round(((last.n - first.n) * 1000 * 10) / (last.t - first.t)) / 10;
}
