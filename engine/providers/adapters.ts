import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, generateText, type LanguageModel, type ModelMessage } from 'ai';
import { onRequestWritten } from './wire-stamp.js';

export interface LlmRequest {
  prompt?: string;
  messages?: { role: 'system' | 'user' | 'assistant'; content: string }[];
  model?: string;
  maxTokens?: number;
  temperature?: number;
}

export interface LlmResponse {
  text: string;
  usage: { inputTokens: number; outputTokens: number };
  provider: string;
  model: string;
}

// The endpoint mapping lives apart from the SDKs, so the sandbox launcher can plan a run without loading them.
export { envVarsFor, hasCredentials, resolveEndpoint, type ProviderEndpoint } from './endpoints.js';
import type { ProviderEndpoint } from './endpoints.js';

/** When a call may leave and when it did: the limiter's permit, and the start it records. */
export interface SendHooks {
  /** Resolves when the request may be sent (the limiter's permit). */
  beforeSend(): Promise<void>;
  /** The request was written to the socket (again, for a redirect). */
  onWire(): void;
}

function model(name: string, e: ProviderEndpoint, id: string, hooks: SendHooks): LanguageModel {
  // The limiter's permit is taken here, as late as possible: the provider counts arrivals, and the
  // SDK's own work before sending would otherwise blur the spacing the limiter made.
  const fetch = async (input: Parameters<typeof globalThis.fetch>[0], init?: Parameters<typeof globalThis.fetch>[1]) => {
    await hooks.beforeSend();
    return onRequestWritten(hooks.onWire, () => globalThis.fetch(input, init));
  };
  const base = { fetch, ...(e.baseURL === undefined ? {} : { baseURL: e.baseURL }) };
  switch (e.kind) {
    // .chat(): the plain openai(id) now targets the Responses API, which compatible servers lack.
    case 'openai': return createOpenAI({ apiKey: e.apiKey ?? '', ...base }).chat(id);
    case 'anthropic': return createAnthropic({ apiKey: e.apiKey ?? '', ...base })(id);
    case 'google': return createGoogleGenerativeAI({ apiKey: e.apiKey ?? '', ...base })(id);
    case 'ollama':
    case 'openai-compatible':
      return createOpenAICompatible({ name, fetch, baseURL: e.baseURL ?? '', ...(e.apiKey ? { apiKey: e.apiKey } : {}) }).chatModel(id);
  }
}

/** One HTTP call through the real SDK, with the SDK's own retries off: we retry, under our limits. */
export async function callProvider(name: string, e: ProviderEndpoint, req: LlmRequest, signal: AbortSignal, hooks: SendHooks): Promise<LlmResponse> {
  const id = req.model ?? e.defaultModel;
  const common = {
    model: model(name, e, id, hooks),
    maxRetries: 0,
    abortSignal: signal,
    ...(req.maxTokens === undefined ? {} : { maxOutputTokens: req.maxTokens }),
    ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
  };
  // System messages go in the SDK's `system` option: it warns (rightly) about them inside `messages`.
  const system = req.messages?.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
  const rest = req.messages?.filter((m) => m.role !== 'system');
  const result = rest
    ? await generateText({ ...common, ...(system ? { system } : {}), messages: rest as ModelMessage[] })
    : await generateText({ ...common, prompt: req.prompt ?? '' });
  return {
    text: result.text,
    usage: { inputTokens: result.usage.inputTokens ?? 0, outputTokens: result.usage.outputTokens ?? 0 },
    provider: name,
    model: id,
  };
}

export interface ClassifiedError {
  kind: 'rate-limit' | 'server' | 'client' | 'network' | 'abort';
  status: number | undefined;
  retryAfterMs: number | undefined;
  message: string;
}

/**
 * How long a 429 (or 503) asks us to wait, in ms, from its headers. `retry-after-ms` first: Azure OpenAI
 * sends it beside `retry-after`, and a limit counted per second frees up in a few ms where `retry-after`
 * can only say "1" (OpenAI's own SDK reads it first too). Header names are matched case-insensitively.
 */
export function retryAfterFromHeaders(headers: Record<string, string | undefined>, now = Date.now()): number | undefined {
  const lower: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const ms = lower['retry-after-ms'] === undefined || lower['retry-after-ms'].trim() === '' ? NaN : Number(lower['retry-after-ms']);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  return parseRetryAfter(lower['retry-after'], now);
}

/**
 * Gemini sends no Retry-After: its 429 says how long to wait in the body, as a google.rpc.RetryInfo
 * detail (`{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay":
 * "37s"}]}}`, a protobuf Duration; sometimes wrapped in an array). Anything else is ignored.
 */
export function retryDelayFromBody(body: string | undefined): number | undefined {
  if (body === undefined || !body.includes('RetryInfo')) return undefined;
  let parsed: unknown;
  try { parsed = JSON.parse(body); } catch { return undefined; }
  const error = (Array.isArray(parsed) ? parsed[0] : parsed) as { error?: { details?: unknown } } | undefined;
  const details = error?.error?.details;
  if (!Array.isArray(details)) return undefined;
  for (const d of details as { '@type'?: unknown; retryDelay?: unknown }[]) {
    if (typeof d?.['@type'] !== 'string' || !d['@type'].endsWith('google.rpc.RetryInfo') || typeof d.retryDelay !== 'string') continue;
    const m = /^(\d+(?:\.\d+)?)s$/.exec(d.retryDelay.trim());
    if (m) return Number(m[1]) * 1000;
  }
  return undefined;
}

/** Retry-After is seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** OpenAI's `insufficient_quota` error (billing, not rate): `{"error": {"type"|"code": "insufficient_quota"}}`. */
export function outOfQuota(body: string | undefined): boolean {
  if (body === undefined || !body.includes('insufficient_quota')) return false;
  try {
    const e = (JSON.parse(body) as { error?: { type?: unknown; code?: unknown } }).error;
    return e?.type === 'insufficient_quota' || e?.code === 'insufficient_quota';
  } catch {
    return false;
  }
}

export function classify(err: unknown, signal: AbortSignal): ClassifiedError {
  if (signal.aborted) return { kind: 'abort', status: undefined, retryAfterMs: undefined, message: String((signal.reason as Error)?.message ?? 'aborted') };
  if (APICallError.isInstance(err)) {
    const status = err.statusCode;
    const headers = err.responseHeaders ?? {};
    const retryAfterMs = retryAfterFromHeaders(headers) ?? retryDelayFromBody(err.responseBody);
    // OpenAI answers an account out of credit with a 429 too; no wait will help, so it is final (and
    // the fallback, if any, is tried at once) instead of a rate limit retried into the same answer.
    const kind = status === 429 && !outOfQuota(err.responseBody) ? 'rate-limit' : status !== undefined && status >= 500 ? 'server' : status === 408 || status === 409 ? 'server' : status !== undefined ? 'client' : 'network';
    return { kind, status, retryAfterMs, message: err.message };
  }
  return { kind: 'network', status: undefined, retryAfterMs: undefined, message: (err as Error)?.message ?? String(err) };
}
