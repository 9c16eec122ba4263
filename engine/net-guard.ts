// Node 20 has no network permission, so a sandboxed worker gets this guard before the pipeline loads.
// It patches the module objects every networking API goes through (user code, npm packages and Node's own
// fetch/undici all call through them at call time), then re-syncs the ESM named exports of the builtins.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { PermissionDeniedError } from './errors.js';
import { hostAllowed, parseHost, type AllowList } from './permissions.js';

const require = createRequire(import.meta.url);
type Fn = (...args: any[]) => any;

function deny(host: string, port?: string | number): never {
  const shown = port === undefined || port === '' ? host : `${host.includes(':') ? `[${host}]` : host}:${port}`;
  throw new PermissionDeniedError('net', shown, host.includes(':') ? `[${host}]` : host);
}

/** Host and port of whatever was passed to fetch / http.request / net.connect. */
function target(arg: unknown, second?: unknown, ipc = true): { host: string; port: string | undefined } | { path: string } | undefined {
  if (typeof arg === 'string' || arg instanceof URL) {
    if (typeof arg === 'string' && !/^[a-z][a-z0-9+.-]*:/i.test(arg)) return undefined;
    const u = new URL(String(arg));
    return { host: u.hostname, port: u.port || (u.protocol === 'https:' || u.protocol === 'wss:' ? '443' : u.protocol === 'http:' || u.protocol === 'ws:' ? '80' : undefined) };
  }
  if (typeof arg === 'object' && arg !== null) {
    if (typeof (arg as Request).url === 'string' && typeof (arg as Request).method === 'string') return target((arg as Request).url);
    const o = arg as { host?: unknown; hostname?: unknown; port?: unknown; path?: unknown; socketPath?: unknown; defaultPort?: unknown; protocol?: unknown };
    if (typeof o.socketPath === 'string') return { path: o.socketPath };
    const host = typeof o.hostname === 'string' ? o.hostname : typeof o.host === 'string' ? o.host.replace(/:\d+$/, '') : undefined;
    // For net, `path` is a unix socket; for http it is the URL path.
    if (ipc && host === undefined && typeof o.path === 'string' && o.port === undefined) return { path: o.path };
    const port = o.port ?? o.defaultPort ?? (o.protocol === 'https:' ? 443 : o.protocol === 'http:' ? 80 : undefined);
    return { host: host ?? 'localhost', port: port === undefined ? undefined : String(port) };
  }
  if (typeof arg === 'number' || (typeof arg === 'string' && /^\d+$/.test(arg))) {
    return { host: typeof second === 'string' ? second : 'localhost', port: String(arg) };
  }
  return undefined;
}

function check(allowed: AllowList, t: ReturnType<typeof target>): void {
  if (!t || allowed === 'all') return;
  if ('path' in t) throw new PermissionDeniedError('net', t.path, '');
  if (!hostAllowed(allowed, t.host, t.port)) deny(t.host.replace(/^\[|\]$/g, ''), t.port);
}

/** Wraps `obj[key]` with a check of its arguments; keeps name and length for libraries that look. */
function wrap(obj: Record<string, unknown>, key: string, guard: (args: unknown[]) => void): void {
  const original = obj[key];
  if (typeof original !== 'function') return;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    guard(args);
    return (original as Fn).apply(this, args);
  };
  Object.defineProperties(wrapped, { name: { value: original.name }, length: { value: original.length } });
  if (original.prototype) wrapped.prototype = original.prototype;
  obj[key] = wrapped;
}

/** The first argument of an http.request-like call, merged with the options object that may follow a URL. */
function requestTarget(args: unknown[]) {
  const [first, second] = args;
  if ((typeof first === 'string' || first instanceof URL) && typeof second === 'object' && second !== null && ('host' in second || 'hostname' in second)) return target(second, undefined, false);
  return target(first, undefined, false);
}

/**
 * Installs the guard in this thread. `allowed` is the host list (`host` or `host:port`); unix sockets
 * and UDP need `--allow-net` without a list. Idempotent per thread is not needed: it runs once per worker.
 */
export function installNetGuard(allowed: AllowList): void {
  if (allowed === 'all') return;
  const fetchImpl = globalThis.fetch;
  if (typeof fetchImpl === 'function') {
    globalThis.fetch = Object.assign(function fetch(input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) {
      try { check(allowed, target(input, undefined, false)); } catch (e) { return Promise.reject(e); }
      return fetchImpl(input, init);
    }, { [Symbol.toStringTag]: 'fetch' }) as typeof globalThis.fetch;
  }
  for (const mod of ['node:http', 'node:https']) {
    const m = require(mod) as Record<string, unknown>;
    wrap(m, 'request', (a) => check(allowed, requestTarget(a)));
    wrap(m, 'get', (a) => check(allowed, requestTarget(a)));
  }
  const net = require('node:net') as Record<string, unknown> & { Socket: { prototype: Record<string, unknown> } };
  wrap(net, 'connect', (a) => check(allowed, target(a[0], a[1])));
  wrap(net, 'createConnection', (a) => check(allowed, target(a[0], a[1])));
  // The choke point: http agents, tls, http2 and undici all end in Socket#connect. Internally it is
  // called with the normalized [options, callback] array.
  wrap(net.Socket.prototype, 'connect', (a) => check(allowed, Array.isArray(a[0]) ? target(a[0][0]) : target(a[0], a[1])));
  const tls = require('node:tls') as Record<string, unknown>;
  wrap(tls, 'connect', (a) => check(allowed, target(a[0], a[1])));
  const dgram = require('node:dgram') as Record<string, unknown>;
  wrap(dgram, 'createSocket', () => { throw new PermissionDeniedError('net', 'UDP', ''); });
  guardDns(allowed);
  syncBuiltinESMExports();
}

/** Name lookups leak data too (a query for `<secret>.attacker.example`); only allowed hosts resolve. */
function guardDns(allowed: AllowList): void {
  const dns = require('node:dns') as Record<string, unknown> & { promises: Record<string, unknown>; Resolver: { prototype: Record<string, unknown> }; };
  const guard = (a: unknown[]) => {
    const host = a[0];
    if (typeof host === 'string' && !allowedOnSomePort(allowed, host)) deny(host);
  };
  const targets = [dns, dns.promises, dns.Resolver.prototype, (dns.promises as { Resolver?: { prototype: Record<string, unknown> } }).Resolver?.prototype];
  for (const t of targets) {
    if (!t) continue;
    for (const key of new Set([...Object.keys(t), ...Object.getOwnPropertyNames(t)])) {
      if ((key === 'lookup' || key.startsWith('resolve')) && typeof t[key] === 'function') wrap(t, key, guard);
    }
  }
}

/** `host:8080` in the list lets the name `host` resolve; the port is checked when connecting. */
function allowedOnSomePort(allowed: AllowList, host: string): boolean {
  if (allowed === 'all') return true;
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return allowed.some((e) => parseHost(e).host === h);
}
