import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, generateText, type LanguageModel, type ModelMessage } from 'ai';

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

/** Which wire protocol and environment a provider name maps to. */
export interface ProviderEndpoint {
  kind: 'openai' | 'anthropic' | 'google' | 'ollama' | 'openai-compatible';
  apiKey: string | undefined;
  baseURL: string | undefined;
  defaultModel: string;
  /** True when pointed at the loopback simulator. */
  simulated: boolean;
}

const known: Record<string, { kind: ProviderEndpoint['kind']; keyVars: string[]; urlVar: string; model: string }> = {
  openai: { kind: 'openai', keyVars: ['OPENAI_API_KEY'], urlVar: 'OPENAI_BASE_URL', model: 'gpt-4o-mini' },
  anthropic: { kind: 'anthropic', keyVars: ['ANTHROPIC_API_KEY'], urlVar: 'ANTHROPIC_BASE_URL', model: 'claude-3-5-haiku-latest' },
  google: { kind: 'google', keyVars: ['GOOGLE_API_KEY', 'GOOGLE_GENERATIVE_AI_API_KEY'], urlVar: 'GOOGLE_BASE_URL', model: 'gemini-2.0-flash' },
  ollama: { kind: 'ollama', keyVars: [], urlVar: 'OLLAMA_BASE_URL', model: 'llama3.2' },
};

export function envVarsFor(name: string): { keyVars: string[]; urlVar: string } {
  const k = known[name];
  if (k) return { keyVars: k.keyVars, urlVar: k.urlVar };
  const up = name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return { keyVars: [`${up}_API_KEY`], urlVar: `${up}_BASE_URL` };
}

/**
 * Resolves a provider's endpoint from the pipeline's config and the usual env variables.
 * `simulatorURL` set means: answer this provider with the simulator (--simulate, or no key).
 */
export function resolveEndpoint(name: string, config: { model?: string; baseURL?: string }, env: NodeJS.ProcessEnv, simulatorURL?: string): ProviderEndpoint {
  const k = known[name];
  const { keyVars, urlVar } = envVarsFor(name);
  const apiKey = keyVars.map((v) => env[v]).find((v) => v !== undefined && v !== '');
  const defaultModel = config.model ?? k?.model ?? 'default';
  if (simulatorURL) return { kind: 'openai', apiKey: 'simulated', baseURL: simulatorURL, defaultModel, simulated: true };
  return { kind: k?.kind ?? 'openai-compatible', apiKey, baseURL: config.baseURL ?? env[urlVar] ?? (name === 'ollama' ? 'http://localhost:11434/v1' : undefined), defaultModel, simulated: false };
}

/** Whether a provider can be called for real (ollama and custom endpoints need no key). */
export function hasCredentials(e: ProviderEndpoint): boolean {
  return e.simulated || e.kind === 'ollama' || (e.kind === 'openai-compatible' ? e.baseURL !== undefined : e.apiKey !== undefined);
}

function model(name: string, e: ProviderEndpoint, id: string, beforeSend: () => Promise<void>): LanguageModel {
  // The limiter's permit is taken here, as late as possible: the provider counts arrivals, and the
  // SDK's own work before sending would otherwise blur the spacing the limiter made.
  const fetch = async (input: Parameters<typeof globalThis.fetch>[0], init?: Parameters<typeof globalThis.fetch>[1]) => {
    await beforeSend();
    return globalThis.fetch(input, init);
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
export async function callProvider(name: string, e: ProviderEndpoint, req: LlmRequest, signal: AbortSignal, beforeSend: () => Promise<void>): Promise<LlmResponse> {
  const id = req.model ?? e.defaultModel;
  const common = {
    model: model(name, e, id, beforeSend),
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

/** Retry-After is seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function classify(err: unknown, signal: AbortSignal): ClassifiedError {
  if (signal.aborted) return { kind: 'abort', status: undefined, retryAfterMs: undefined, message: String((signal.reason as Error)?.message ?? 'aborted') };
  if (APICallError.isInstance(err)) {
    const status = err.statusCode;
    const headers = err.responseHeaders ?? {};
    const retryAfterMs = parseRetryAfter(headers['retry-after'] ?? headers['Retry-After']);
    const kind = status === 429 ? 'rate-limit' : status !== undefined && status >= 500 ? 'server' : status === 408 || status === 409 ? 'server' : status !== undefined ? 'client' : 'network';
    return { kind, status, retryAfterMs, message: err.message };
  }
  return { kind: 'network', status: undefined, retryAfterMs: undefined, message: (err as Error)?.message ?? String(err) };
}
