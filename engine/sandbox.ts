// The sandboxed process's side of the permissions. Node's permission model (set up by the launcher,
// tui/sandbox.ts) enforces files and child processes for the whole process; what Node 20 cannot enforce
// (network, environment) is enforced here, in every worker thread, before the pipeline loads.
import { createRequire } from 'node:module';
import { permissionMessage, PermissionDeniedError } from './errors.js';
import { installNetGuard } from './net-guard.js';
import { envAllowed, type AllowList } from './permissions.js';
import { traceEnvVar } from './trace.js';
import type { Declaration } from './declaration.js';

/** Set by the launcher on the re-executed process; also the re-exec loop guard. */
export const sandboxEnvVar = 'PIPELINE_TUI_SANDBOX';

/** What the launcher hands the sandboxed process (as JSON in `sandboxEnvVar`). */
export interface SandboxSpec {
  net: AllowList;
  env: AllowList;
  /** Names set in the real environment that pipeline code may not read: reading one logs the flag to add. */
  hiddenEnv: string[];
  /** jiti's transpile cache for this pipeline: writable here, never read by the (unsandboxed) launcher. */
  cacheDir: string;
  /**
   * What the launcher read from the pipeline's text and planned this sandbox from, when it did not load
   * the pipeline itself: the evaluated pipeline must declare the same before anything runs.
   */
  declared?: Declaration;
  /** Worker threads to start as soon as the process starts, for the pool to adopt (engine/worker-prestart.ts). */
  prestart?: { file: string; workers: number };
  /**
   * The command as the launcher parsed it (`run`, `retry` or the default one), so the sandboxed process
   * goes straight to it (tui/sandboxed.ts) instead of parsing its command line again. Opaque here.
   */
  command?: unknown;
  /** The launcher draws the dashboard; this process sends it the state (tui/dashboard/remote-screen.ts). */
  screen?: boolean;
}

let spec: SandboxSpec | null | undefined;

/**
 * The sandbox this process runs in, if any. Requires both the launcher's spec and Node's permission model:
 * a spec variable exported by hand in a shell, without the model, must not switch the re-exec off.
 */
export function activeSandbox(): SandboxSpec | undefined {
  if (spec === undefined) {
    spec = null;
    const raw = process.env[sandboxEnvVar];
    if (raw && permissionModelOn()) {
      try { spec = JSON.parse(raw) as SandboxSpec; } catch { spec = null; }
    }
  }
  return spec ?? undefined;
}

export function permissionModelOn(): boolean {
  return typeof (process as { permission?: { has?: unknown } }).permission?.has === 'function';
}

/** The environment a pipeline worker starts with: the allowed names only (undefined: inherit all). */
export function workerEnv(): Record<string, string> | undefined {
  const s = activeSandbox();
  if (!s || s.env === 'all') return undefined;
  const env: Record<string, string> = { [sandboxEnvVar]: process.env[sandboxEnvVar]! };
  // Ours, not the pipeline's: start-up tracing reaches the workers too.
  if (process.env[traceEnvVar] !== undefined) env[traceEnvVar] = process.env[traceEnvVar];
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && envAllowed(s.env, name)) env[name] = value;
  }
  return env;
}

/**
 * Called first thing in a worker, before the pipeline loads. `log` reports hints (an environment
 * variable read that the sandbox hid) without failing the item: a hidden variable reads as undefined.
 */
export function installWorkerSandbox(log: (message: string) => void): void {
  const s = activeSandbox();
  if (!s) return;
  installNetGuard(s.net);
  guardChildProcesses();
  guardWorkerThreads();
  if (s.hiddenEnv.length > 0) hintHiddenEnv(new Set(s.hiddenEnv), log);
}

/**
 * Node denies child processes anyway (the sandbox never gets --allow-child-process); this only makes the
 * message name the command. A child process is outside every sandbox, so only -A allows one.
 */
function guardChildProcesses(): void {
  const require = createRequire(import.meta.url);
  const cp = require('node:child_process') as Record<string, unknown>;
  for (const key of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
    if (typeof cp[key] !== 'function') continue;
    const original = cp[key] as (...args: unknown[]) => unknown;
    cp[key] = Object.defineProperty(function (...args: unknown[]) {
      const command = typeof args[0] === 'string' ? args[0].split(' ')[0]! : String(args[0]);
      throw new PermissionDeniedError('run', command);
    }, 'name', { value: original.name });
  }
  require('node:module').syncBuiltinESMExports();
}

/** Node's permission flags, in any spelling a worker's execArgv could use to leave or widen the sandbox. */
const permissionFlag = /^--(no-)?(experimental-permission|permission|allow-[a-z-]+)(=|$)/;

/**
 * Node 20 starts a worker thread whose options give its own `execArgv` without the permission model
 * (measured: `execArgv: []` reads any file and spawns processes), and we must allow worker threads. So
 * a worker's own execArgv keeps everything but permission flags, and gets this thread's. Called in the
 * sandboxed process's main thread before anything takes hold of the Worker class, and in every
 * pipeline worker.
 */
export function guardWorkerThreads(): void {
  const inherited = process.execArgv.filter((a) => permissionFlag.test(a));
  if (!inherited.includes('--experimental-permission') && !inherited.includes('--permission')) return;
  const require = createRequire(import.meta.url);
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const Original = wt.Worker;
  if ((Original as { sandboxed?: boolean }).sandboxed) return;
  class Worker extends Original {
    static readonly sandboxed = true;
    constructor(filename: string | URL, options?: import('node:worker_threads').WorkerOptions) {
      super(filename, options?.execArgv === undefined ? options : { ...options, execArgv: [...options.execArgv.filter((a) => !permissionFlag.test(a)), ...inherited] });
    }
  }
  Object.defineProperty(Worker, 'name', { value: 'Worker' });
  wt.Worker = Worker;
  require('node:module').syncBuiltinESMExports();
}

function hintHiddenEnv(hidden: Set<string>, log: (message: string) => void): void {
  const told = new Set<string>();
  const env = process.env;
  const proxy = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string' && hidden.has(key) && !told.has(key)) {
        told.add(key);
        log(`${permissionMessage('env', key)} (it reads as undefined)`);
      }
      return Reflect.get(target, key);
    },
  });
  Object.defineProperty(process, 'env', { value: proxy, configurable: true, enumerable: true, writable: true });
}
