// The launcher: from a pipeline's declaration, the CLI runs itself again in a child process under Node's
// permission model, with exactly the file access the pipeline was granted (plus what our own code needs),
// and forwards stdio, signals and the exit code. See README "What the sandbox protects against".
// The declaration is read from the file's text when it is plain literals (engine/declaration-scan.ts), so
// the launcher neither runs pipeline code unsandboxed nor pays for loading it; the child checks it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { declarationOfPipeline, type Declaration } from '../engine/declaration.js';
import { computeGrant, envAllowed, nodeFsPaths, providerHost, type AllowList, type Grant, type PermissionFlags } from '../engine/permissions.js';
import { envVarsFor, resolveEndpoint } from '../engine/providers/endpoints.js';
import { sandboxEnvVar, type SandboxSpec } from '../engine/sandbox.js';
import { trace } from '../engine/trace.js';
import type { LoadedPipeline } from '../engine/types.js';
import type { LauncherScreen } from './dashboard/launcher-screen.js';
import { importBundled } from './bundled.js';
import { prestartCount, scanPipelineRef, type PoolFlags } from './plan.js';
import { relayed, replanExitCode, type RelayedSignal, type ReplanRequest, type SignalEcho } from './sandbox-child.js';

export { sandboxWanted } from './sandbox-child.js';

const packageRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface SandboxRun {
  /** Input patterns given on the command line (default: the pipeline's `input`). */
  inputs: string[];
  stateDir: string;
  out?: string | undefined;
  flags: PermissionFlags;
  /** The PIPELINE argument; when it is not on the command line (picked in the dashboard), the file is added. */
  ref?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** `run`'s --workers and --redis: the child starts the first pool's workers right away. Absent: it does not. */
  pool?: PoolFlags;
  /** The parsed command, run by the child without parsing its command line again (tui/sandboxed.ts). */
  command?: unknown;
  /** The run shows the dashboard: this process draws it, from the state the child sends. */
  dashboard?: { simulated: boolean };
}

/**
 * Where the sandboxed process keeps jiti's transpile cache for this pipeline: its own folder (one pipeline
 * cannot plant code in another's cache), outside the project (nothing to clean up or commit).
 */
export function sandboxCacheDir(stateRoot: string, pipeline: string): string {
  const key = createHash('sha256').update(`${stateRoot}\0${pipeline}`).digest('hex').slice(0, 16);
  return path.join(os.tmpdir(), `pipeline-tui-${process.getuid?.() ?? 'user'}`, 'jiti', `${pipeline}-${key}`);
}

/** The grant for a run, and the Node flags that enforce its file part. Exposed for tests and `--help`-like tools. */
export function sandboxPlan(pipeline: Declaration, run: SandboxRun): { grant: Grant; spec: SandboxSpec; nodeArgs: string[]; folders: string[] } {
  const cwd = run.cwd ?? process.cwd();
  const env = run.env ?? process.env;
  const stateRoot = path.resolve(cwd, run.stateDir);
  const hosts: string[] = [];
  const keyVars: string[] = [];
  for (const { name, baseURL } of pipeline.providers) {
    keyVars.push(...envVarsFor(name).keyVars);
    const endpoint = resolveEndpoint(name, baseURL === undefined ? {} : { baseURL }, env);
    const host = providerHost(name, endpoint.kind, endpoint.baseURL);
    if (host) hosts.push(host);
  }
  const output = path.resolve(cwd, run.out ?? pipeline.output);
  const grant = computeGrant({
    cwd,
    pipelineFile: pipeline.file,
    definition: pipeline,
    inputs: [...(run.inputs.length > 0 ? run.inputs : pipeline.input), ...pipeline.watch],
    output,
    stateRoot,
    providers: { hosts, keyVars },
  }, run.flags);
  const cacheDir = sandboxCacheDir(stateRoot, pipeline.name);
  // What our own code reads: the compiled CLI, its dependencies, package.json (for --version).
  // Node's loader opens modules by their real path, so a symlinked node_modules (a linked checkout, a
  // shared store) needs its target granted too.
  const runtimeRead = ['dist', 'node_modules', 'package.json', 'bin'].flatMap((p) => withRealPath(path.join(packageRoot, p)));
  const fsFlags = (flag: string, list: AllowList, extra: string[]) =>
    list === 'all' ? [`${flag}=*`] : nodeFsPaths([...list, ...extra]).map((p) => `${flag}=${p}`);
  const nodeArgs = [
    '--experimental-permission',
    // Our worker threads need it; see the README for what that leaves open.
    '--allow-worker',
    ...fsFlags('--allow-fs-read', grant.read, [...runtimeRead, cacheDir]),
    ...fsFlags('--allow-fs-write', grant.write, [cacheDir]),
    // The permission model announces itself on stderr at every start; the README says it once instead.
    '--disable-warning=ExperimentalWarning',
    '--disable-warning=SecurityWarning',
  ];
  const hiddenEnv = Object.keys(env).filter((n) => !envAllowed(grant.env, n) && n !== sandboxEnvVar);
  // Node grants a folder that does not exist yet as if it were a file: ours must exist before the start
  // (the state folder need not: its grant is `<state>/<name>*`, which Node matches before it exists).
  const folders = [path.dirname(output), cacheDir];
  return { grant, spec: { net: grant.net, env: grant.env, hiddenEnv, cacheDir }, nodeArgs, folders };
}

/**
 * The sandboxed process's environment. NODE_EXTRA_CA_CERTS makes Node build its whole certificate store
 * before it starts (60-80 ms measured, at every start); a run that can open no connection at all (no
 * network granted, no provider, no --redis) has no use for it, so that process starts without it.
 */
function childEnv(env: NodeJS.ProcessEnv, grant: Grant): NodeJS.ProcessEnv {
  const offline = Array.isArray(grant.net) && grant.net.length === 0 && !process.argv.some((a) => a === '--redis' || a.startsWith('--redis='));
  if (!offline || env.NODE_EXTRA_CA_CERTS === undefined) return env;
  const { NODE_EXTRA_CA_CERTS: _unused, ...rest } = env;
  return rest;
}

function withRealPath(p: string): string[] {
  try {
    const real = realpathSync(p);
    return real === p ? [p] : [p, real];
  } catch { return [p]; }
}

/**
 * `run` under the sandbox: planned from the declaration in the pipeline's text when it can be read there,
 * else (or when the sandboxed child finds the evaluated pipeline declares something else) from the
 * pipeline loaded here, as before. Resolves with the exit code.
 */
export async function launchSandboxed(ref: string, run: SandboxRun): Promise<number> {
  const scanned = scanPipelineRef(ref, run.cwd ?? process.cwd());
  trace(scanned ? 'declaration read from the text' : 'declaration not readable from the text');
  let screen: LauncherScreen | undefined;
  const showScreen = async (name: string) => {
    if (!run.dashboard || screen) return;
    const { LauncherScreen } = await importBundled('./dashboard/bundled/launcher-screen.js', () => import('./dashboard/launcher-screen.js'));
    screen = new LauncherScreen({ pipeline: name, simulated: run.dashboard.simulated, now: Date.now() });
  };
  try {
    if (scanned) {
      await showScreen(scanned.declaration.name);
      const code = await spawnSandboxed(scanned.declaration, run, true, prestartCount(run.pool, scanned.poolSize), screen);
      if (code !== 'replan') return code;
      trace('the sandboxed child asked for a re-plan');
    }
    const { loadPipeline } = await import('../engine/load.js');
    const pipeline = await loadPipeline(ref, run.cwd === undefined ? {} : { cwd: run.cwd });
    trace('pipeline loaded');
    await showScreen(pipeline.name);
    return (await spawnSandboxed(declarationOfPipeline(pipeline), run, false, prestartCount(run.pool, pipeline.stages[0]?.workers ?? pipeline.workers), screen)) as number;
  } finally {
    await screen?.close();
  }
}

/**
 * Runs this same command line again in a sandboxed child and resolves with its exit code. A child killed
 * by a signal makes this process die by the same signal, so callers see what they would have seen.
 */
export async function runSandboxed(pipeline: LoadedPipeline, run: SandboxRun): Promise<number> {
  const workers = prestartCount(run.pool, pipeline.stages[0]?.workers ?? pipeline.workers);
  return spawnSandboxed(declarationOfPipeline(pipeline), run, false, workers) as Promise<number>;
}

/**
 * `check`: the child compares the evaluated pipeline with `pipeline` first, and may ask for a re-plan.
 * `workers`: how many worker threads the child starts as soon as it starts.
 */
async function spawnSandboxed(pipeline: Declaration, run: SandboxRun, check: boolean, workers: number | undefined, screen?: LauncherScreen): Promise<number | 'replan'> {
  const plan = sandboxPlan(pipeline, run);
  const { nodeArgs, folders } = plan;
  const spec: SandboxSpec = {
    ...plan.spec,
    ...(screen ? { screen: true } : {}),
    ...(check ? { declared: pipeline } : {}),
    ...(workers === undefined ? {} : { prestart: { file: pipeline.file, workers } }),
    ...(run.command === undefined ? {} : { command: run.command }),
  };
  const created = folders.map((dir) => ({ dir, top: mkdirSync(dir, { recursive: true, ...(dir === spec.cacheDir ? { mode: 0o700 } : {}) }) }));
  // A run that stops before using them (a missing input, say) leaves no empty folders behind.
  const removeUnused = () => {
    for (const { dir, top } of created) {
      if (top === undefined) continue;
      for (let d = dir; d.length >= top.length; d = path.dirname(d)) {
        try { rmdirSync(d); } catch { break; }
      }
    }
  };
  const args = process.argv.slice(2);
  if (run.ref !== undefined && !args.includes(run.ref)) args.push(pipeline.file);
  const child = spawn(process.execPath, [...process.execArgv, ...nodeArgs, process.argv[1]!, ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    // The dashboard's state travels as structured clones, like the signal echoes.
    serialization: 'advanced',
    env: { ...childEnv(run.env ?? process.env, plan.grant), [sandboxEnvVar]: JSON.stringify(spec) },
    cwd: run.cwd ?? process.cwd(),
  });
  trace('sandboxed child spawned');
  screen?.attach(child);
  // Ctrl-C in a terminal reaches both processes; a `kill PID` reaches only this one. The child echoes
  // every signal it gets, and we forward only those it did not get, so it never sees one twice (a
  // second SIGINT means "stop at once").
  // Echoes of the signals we forwarded are expected and skipped; any other echo is a direct delivery
  // and cancels one of ours that arrived close to it.
  const forwarded = new Map<RelayedSignal, number>();
  const direct = new Map<RelayedSignal, number[]>();
  let replan = false;
  child.on('message', (m: SignalEcho | ReplanRequest) => {
    if (m?.__pt === 'replan') replan = check;
    if (m?.__pt !== 'signal') return;
    const expected = forwarded.get(m.signal) ?? 0;
    if (expected > 0) forwarded.set(m.signal, expected - 1);
    else direct.set(m.signal, [...(direct.get(m.signal) ?? []), Date.now()]);
  });
  const onSignal = (signal: RelayedSignal) => {
    const at = Date.now();
    setTimeout(() => {
      const seen = (direct.get(signal) ?? []).filter((t) => t >= at - 250);
      if (seen.length > 0) {
        direct.set(signal, seen.slice(1));
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null) return;
      forwarded.set(signal, (forwarded.get(signal) ?? 0) + 1);
      child.kill(signal);
    }, 100).unref();
  };
  for (const s of relayed) process.on(s, onSignal);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => { for (const s of relayed) process.off(s, onSignal); removeUnused(); reject(e); });
    child.on('exit', (code, signal) => {
      for (const s of relayed) process.off(s, onSignal);
      removeUnused();
      if (signal) {
        // The terminal back to normal (out of raw mode) before this process dies by the same signal.
        void (screen?.close() ?? Promise.resolve()).then(() => {
          process.kill(process.pid, signal);
          resolve(128 + (signalNumbers[signal] ?? 1));
        });
        return;
      }
      resolve(replan && code === replanExitCode ? 'replan' : code ?? 1);
    });
  });
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
