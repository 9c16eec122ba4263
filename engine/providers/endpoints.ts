// Which wire protocol, environment variables and base URL a provider name maps to. Free of the AI SDKs:
// the sandbox launcher needs the hosts and key variables of a pipeline's providers, not the clients.

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
