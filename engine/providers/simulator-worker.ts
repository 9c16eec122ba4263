// The simulator's own thread: arrivals are stamped by an event loop that nothing else is using,
// so "measured at the server" means what it says.
import { parentPort, workerData } from 'node:worker_threads';
import { ProviderSimulator, type SimulatorOptions } from './simulator.js';

const sim = new ProviderSimulator(workerData as SimulatorOptions);
const url = await sim.start();
parentPort!.postMessage({ type: 'ready', url });
parentPort!.on('message', (m: { type: string; id: number }) => {
  if (m.type === 'stats') parentPort!.postMessage({ type: 'stats', id: m.id, stats: sim.stats });
  if (m.type === 'stop') void sim.stop().then(() => parentPort!.close());
});
