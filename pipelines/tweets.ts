import { definePipeline } from 'pipeline-tui';
import nlp from 'compromise';
import { franc } from 'franc-min';
import Sentiment from 'sentiment';

/** One saved tweet, as in samples/tweets.jsonl (the shape of a typical export). */
interface Tweet {
  id: string;
  author: string;
  created_at: string;
  text: string;
  likes?: number;
  retweets?: number;
  media?: { type: string }[];
}

export type ContentType = 'thread' | 'github' | 'paper' | 'multimedia' | 'standard';

export function contentType(t: Tweet): ContentType {
  if (/github\.com\//i.test(t.text)) return 'github';
  if (/arxiv\.org\/|doi\.org\//i.test(t.text)) return 'paper';
  if (/🧵|\b1\/\d+\b|a thread\b/i.test(t.text)) return 'thread';
  if ((t.media?.length ?? 0) > 0 || /\.(png|jpe?g|gif|mp4)\b/i.test(t.text)) return 'multimedia';
  return 'standard';
}

// Research and code links are what people save tweets for: they are enriched first.
const priorityByType: Record<ContentType, number> = { paper: 8, github: 6, thread: 4, multimedia: 2, standard: 0 };

// Longer reads go to the provider with the better long-form model; everything falls back along a chain.
const providerByType: Record<ContentType, string> = { paper: 'anthropic', thread: 'anthropic', github: 'openai', multimedia: 'google', standard: 'openai' };

const sentiment = new Sentiment();

export default definePipeline<Tweet>({
  name: 'tweets',
  description: 'Enrich saved tweets: type, priority, language, sentiment, entities, and an LLM summary',
  input: 'samples/tweets.jsonl',
  output: 'out/tweets.jsonl',
  id: (t) => t.id,
  priority: (t) => priorityByType[contentType(t)],
  workers: 8,
  timeoutMs: 30_000,
  retry: { attempts: 3, backoffMs: 500, maxBackoffMs: 10_000 },
  // The limits of the accounts this was written for; `--simulate` (or no key) answers with the simulator.
  providers: {
    openai: { rpm: 3_500, tpm: 90_000, model: 'gpt-4o-mini', fallback: 'anthropic' },
    anthropic: { rpm: 1_000, model: 'claude-3-5-haiku-latest', fallback: 'openai' },
    google: { rpm: 300, model: 'gemini-2.0-flash', fallback: 'openai' },
  },
  async process(t, ctx) {
    const type = contentType(t);
    const doc = nlp(t.text);
    const mood = sentiment.analyze(t.text);
    const summary = await ctx.llm(providerByType[type], {
      messages: [
        { role: 'system', content: 'Summarise the tweet in one short sentence for a reading list.' },
        { role: 'user', content: t.text },
      ],
      maxTokens: 60,
      temperature: 0.2,
    });
    return {
      type,
      priority: priorityByType[type],
      language: franc(t.text, { minLength: 10 }),
      sentiment: { score: mood.score, comparative: Math.round(mood.comparative * 1000) / 1000, label: mood.score > 0 ? 'positive' : mood.score < 0 ? 'negative' : 'neutral' },
      entities: {
        people: doc.people().out('array') as string[],
        places: doc.places().out('array') as string[],
        organizations: doc.organizations().out('array') as string[],
        hashtags: t.text.match(/#[\p{L}\d_]+/gu) ?? [],
        mentions: t.text.match(/@\w+/g) ?? [],
        urls: t.text.match(/https?:\/\/\S+/g) ?? [],
      },
      summary: { text: summary.text, provider: summary.provider, model: summary.model, tokens: summary.usage },
      engagement: (t.likes ?? 0) + 2 * (t.retweets ?? 0),
    };
  },
});
