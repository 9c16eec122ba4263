// What a sandboxed pipeline may touch: the defaults, the pipeline's `permissions`, the --allow-* flags.
// Pure functions: the launcher (tui/sandbox.ts) turns the result into Node permission flags, and the
// worker side (engine/sandbox.ts) enforces the parts Node 20 cannot (network, environment).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, PermissionDeniedError, type PermissionKind } from './errors.js';
import type { PipelineDefinition } from './types.js';

/** `true`: everything of that kind; a list: those; absent: only the defaults. */
export type AllowFlag = true | string[];

/** The --allow-* flags as commander hands them over. */
export interface PermissionFlags {
  allowRead?: AllowFlag;
  allowWrite?: AllowFlag;
  allowNet?: AllowFlag;
  allowEnv?: AllowFlag;
  allowAll?: boolean;
}

export type AllowList = 'all' | string[];

/** Everything a sandboxed run may do; paths are absolute. */
export interface Grant {
  read: AllowList;
  write: AllowList;
  /** Hosts, optionally with a port (`host:port`); a bare host allows every port. */
  net: AllowList;
  env: AllowList;
}

/**
 * Commander argParser for `--allow-X[=A,B]`: repeated flags add up, a bare flag (rewritten to `--allow-X=`
 * before parsing, see `bareAllowFlags`) allows everything.
 */
export function collectAllowList(value: string, previous: AllowFlag | undefined): AllowFlag {
  if (previous === true || value.trim() === '') return true;
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return [...(previous ?? []), ...items];
}

/**
 * `--allow-read` with no value must not swallow the next argument (`run p --allow-read data.jsonl`):
 * like Deno, a value only counts after `=`. Commander's optional values would take it, so the bare
 * flag is given an empty value up front.
 */
export function bareAllowFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    if (a === '--') { out.push(...argv.slice(out.length)); break; }
    out.push(/^--allow-(read|write|net|env)$/.test(a) ? `${a}=` : a);
  }
  return out;
}

const globChars = /[*?[\]{}!()]/;

/** The folder a glob can match in (`data/**\/*.jsonl` → `data`); a plain path is itself. */
export function staticBase(pattern: string, cwd: string): string {
  const parts = pattern.split(/[\\/]/);
  const i = parts.findIndex((p) => globChars.test(p));
  const base = i === -1 ? pattern : parts.slice(0, i).join('/') || (pattern.startsWith('/') ? '/' : '.');
  return path.resolve(cwd, base);
}

/** Host part of a provider's base URL, or the SDK's default host for the well-known providers. */
const defaultHosts: Record<string, string> = {
  openai: 'api.openai.com',
  anthropic: 'api.anthropic.com',
  google: 'generativelanguage.googleapis.com',
  ollama: 'localhost:11434',
};

export interface GrantContext {
  cwd: string;
  pipelineFile: string;
  definition: Pick<PipelineDefinition, 'name' | 'permissions'>;
  /** Input patterns (files, folders, globs) and watch folders the run reads. */
  inputs: string[];
  /** Absolute output file. */
  output: string;
  /** Absolute state root (`--state`). */
  stateRoot: string;
  /** Provider hosts (`host` or `host:port`) and key variables, from the provider adapters. */
  providers: { hosts: string[]; keyVars: string[] };
}

const toList = (f: AllowFlag | undefined, fromFile: string[] | undefined, defaults: string[], map: (s: string) => string = (s) => s): AllowList =>
  f === true ? 'all' : [...new Set([...defaults, ...(fromFile ?? []).map(map), ...(f ?? []).map(map)])];

/** Whether `name` is in an env allow list; `AWS_*` allows every name starting with `AWS_`. */
export function envAllowed(allowed: AllowList, name: string): boolean {
  return allowed === 'all' || allowed.some((a) => (a.endsWith('*') ? name.startsWith(a.slice(0, -1)) : a === name));
}

/** Folders named `node_modules` from `dir` up to the root: what the pipeline's own imports resolve from. */
export function nodeModulesAbove(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    const nm = path.join(d, 'node_modules');
    if (existsSync(nm)) out.push(nm);
    if (path.dirname(d) === d) return out;
  }
}

/**
 * The pipeline's grant. By default: read its inputs, its own folder, ./pipelines/ and the node_modules
 * its imports resolve from; write its output folder and its state; reach its providers' hosts; read its
 * providers' key variables. `permissions` in the file and the flags add to that; `-A` is handled by
 * the caller (no sandbox at all).
 */
export function computeGrant(ctx: GrantContext, flags: PermissionFlags): Grant {
  // A trailing `/` is kept: Node needs it for a folder that does not exist yet (see nodeFsPaths).
  const abs = (p: string) => path.resolve(ctx.cwd, p) + (/[\\/]$/.test(p) && p.length > 1 ? '/' : '');
  const own = ctx.definition.permissions ?? {};
  const outDir = path.dirname(ctx.output);
  const name = ctx.definition.name;
  // The state folder and the backup it is renamed to by --fresh or by `f` at the dashboard's resume
  // prompt (decided after the sandbox started); never the whole root, other pipelines live there.
  const state = [path.join(ctx.stateRoot, name), `${path.join(ctx.stateRoot, name)}.backup-*`];
  const pipelineDir = path.dirname(ctx.pipelineFile);
  const read = [
    pipelineDir, abs('pipelines'), ...ctx.inputs.map((p) => staticBase(p, ctx.cwd)), outDir, ...state,
    ...nodeModulesAbove(pipelineDir),
  ];
  return {
    read: toList(flags.allowRead, own.read, read, abs),
    write: toList(flags.allowWrite, own.write, [outDir, ...state], abs),
    net: toList(flags.allowNet, own.net, ctx.providers.hosts),
    env: toList(flags.allowEnv, own.env, ctx.providers.keyVars),
  };
}

/** `host`, `host:port`, `[v6]:port` → parts; a URL is accepted too (`https://api.x.com/v1`). */
export function parseHost(entry: string): { host: string; port: string | undefined } {
  let e = entry.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(e)) {
    const u = new URL(e);
    return { host: u.hostname.replace(/^\[|\]$/g, '').toLowerCase(), port: u.port || undefined };
  }
  e = e.replace(/\/.*$/, '');
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(e);
  if (v6) return { host: v6[1]!.toLowerCase(), port: v6[2] };
  const m = /^([^:]+):(\d+)$/.exec(e);
  if (m) return { host: m[1]!.toLowerCase(), port: m[2] };
  return { host: e.toLowerCase(), port: undefined };
}

export function hostAllowed(allowed: AllowList, host: string, port: string | number | undefined): boolean {
  if (allowed === 'all') return true;
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return allowed.some((entry) => {
    const a = parseHost(entry);
    return a.host === h && (a.port === undefined || a.port === String(port));
  });
}

/** Hosts a provider's calls go to, from its resolved base URL (or the SDK default). */
export function providerHost(name: string, kind: string, baseURL: string | undefined): string | undefined {
  if (baseURL) {
    try {
      const u = new URL(baseURL);
      return u.port ? `${u.hostname}:${u.port}` : u.hostname;
    } catch { return undefined; }
  }
  return defaultHosts[kind] ?? defaultHosts[name];
}

/**
 * Node's permission model throws ERR_ACCESS_DENIED with `permission` and `resource`; the user needs the
 * flag that lifts it. Anything else (including our own denials, found through `cause`) passes through.
 */
export function asPermissionDenied(thrown: unknown): PermissionDeniedError | undefined {
  for (let e = thrown, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof PermissionDeniedError) return e;
    const err = e as { code?: unknown; permission?: unknown; resource?: unknown; name?: unknown; kind?: unknown; message?: unknown };
    if (err.code === ErrorCode.PermissionDenied && typeof err.kind === 'string' && typeof err.resource === 'string') {
      // Our own error, made by another copy of this module (a worker's jiti-loaded one, say).
      return new PermissionDeniedError(err.kind as PermissionKind, err.resource);
    }
    if (err.code === 'ERR_DLOPEN_DISABLED') return new PermissionDeniedError('run', 'native addons');
    if (err.code !== 'ERR_ACCESS_DENIED') continue;
    const resource = typeof err.resource === 'string' ? err.resource : '';
    switch (err.permission) {
      case 'FileSystemRead': return new PermissionDeniedError('read', resource);
      case 'FileSystemWrite': return new PermissionDeniedError('write', resource);
      case 'ChildProcess': return new PermissionDeniedError('run', resource);
      // WorkerThreads, WASI, Inspector: nothing a flag short of -A lifts.
      default: return new PermissionDeniedError('run', resource || String(err.permission || err.message || ''));
    }
  }
  return undefined;
}

/**
 * Paths for Node's --allow-fs-read/--allow-fs-write. Node 20's path tree has bugs this works around:
 * - when one granted path is a string prefix of another (`/s/out` and `/s/out/x`, `/s/p` and
 *   `/s/p.backup-*`), the shorter one itself is refused (its contents are not), so `mkdir`/`readdir` of
 *   a granted folder fails. Paths inside another are dropped (already covered), and `A` becomes `A*`
 *   when another path merely starts with it, at the cost of also granting siblings whose names start with A;
 * - a folder that does not exist yet is granted as a file (its contents are refused) unless written with
 *   a trailing `/`, so a trailing `/` given by the user is kept; our own folders are created beforehand.
 */
export function nodeFsPaths(list: string[]): string[] {
  const dirHint = new Set<string>();
  const norm = list.map((p) => {
    const n = p.length > 1 ? p.replace(/[\\/]+$/, '') : p;
    if (n !== p) dirHint.add(n);
    return n;
  });
  const entries = [...new Set(norm)].sort((a, b) => a.length - b.length);
  const covers = (k: string, e: string) => (k.endsWith('*') ? e.startsWith(k.slice(0, -1)) : e === k || e.startsWith(k === '/' ? '/' : `${k}/`));
  const kept: string[] = [];
  for (const e of entries) {
    if (kept.some((k) => covers(k, e))) continue;
    const clash = !e.endsWith('*') && e !== '/' && entries.some((b) => b !== e && b.startsWith(e) && b[e.length] !== '/');
    kept.push(clash ? `${e}*` : e);
  }
  return kept.map((k) => (dirHint.has(k) && k !== '/' && !existsSync(k) ? `${k}/` : k));
}
