import { Worker } from 'node:worker_threads';
import { simulatorURLFor, type SimulatorOptions, type SimulatorStats } from './simulator.js';

/** A ProviderSimulator running in a worker thread of its own; see simulator-worker.ts for why. */
export class SimulatorThread {
  private nextId = 1;
  private readonly waiting = new Map<number, (s: SimulatorStats) => void>();

  private constructor(private readonly worker: Worker, readonly url: string) {
    worker.on('message', (m: { type: string; id?: number; stats?: SimulatorStats }) => {
      if (m.type === 'stats' && m.id !== undefined) { this.waiting.get(m.id)?.(m.stats!); this.waiting.delete(m.id); }
    });
  }

  static async start(options: SimulatorOptions = {}): Promise<SimulatorThread> {
    const worker = new Worker(new URL('./simulator-worker.js', import.meta.url), { workerData: options });
    const url = await new Promise<string>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`The provider simulator exited during start-up (code ${code})`)));
      worker.once('message', (m: { type: string; url: string }) => resolve(m.url));
    });
    worker.removeAllListeners('error').removeAllListeners('exit');
    worker.on('error', () => undefined);
    worker.unref();
    return new SimulatorThread(worker, url);
  }

  /** A provider's own path, counted on its own (see SimulatorOptions.providers). */
  urlFor(provider: string): string { return simulatorURLFor(this.url, provider); }

  stats(): Promise<SimulatorStats> {
    const id = this.nextId++;
    return new Promise((resolve) => { this.waiting.set(id, resolve); this.worker.postMessage({ type: 'stats', id }); });
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.postMessage({ type: 'stop', id: 0 });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    await this.worker.terminate();
  }
}
