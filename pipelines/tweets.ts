import { definePipeline } from 'pipeline-tui';

/** One saved tweet, as in samples/tweets.jsonl (a typical export shape). */
interface Tweet {
  id: string;
  author: string;
  created_at: string;
  text: string;
  likes?: number;
  retweets?: number;
  media?: { type: string }[];
}

type ContentType = 'thread' | 'github' | 'paper' | 'multimedia' | 'standard';

function contentType(t: Tweet): ContentType {
  if (/github\.com\//i.test(t.text)) return 'github';
  if (/arxiv\.org\/|doi\.org\/|\bpaper\b/i.test(t.text)) return 'paper';
  if (/🧵|\b1\/\d+\b|\(thread\)|a thread/i.test(t.text)) return 'thread';
  if ((t.media?.length ?? 0) > 0 || /\.(png|jpe?g|gif|mp4)\b/i.test(t.text)) return 'multimedia';
  return 'standard';
}

// Research and code links are what people save tweets for: they go first.
const priorityByType: Record<ContentType, number> = { paper: 8, github: 6, thread: 4, multimedia: 2, standard: 0 };

const stopwords: Record<string, string[]> = {
  en: ['the', 'is', 'and', 'to', 'of', 'in', 'my', 'this', 'on', 'a', 'i', 'it', 'at', 'look'],
  es: ['el', 'la', 'de', 'que', 'es', 'muy', 'para', 'nuestro', 'los', 'del', 'un', 'una'],
  fr: ['le', 'la', 'de', 'est', 'dans', 'notre', 'pour', 'les', 'vraiment', 'des', 'un', 'une'],
};

function language(text: string): string {
  const words = text.toLowerCase().split(/[^\p{L}]+/u).filter(Boolean);
  let best = 'und';
  let bestScore = 0;
  for (const [lang, list] of Object.entries(stopwords)) {
    const score = words.filter((w) => list.includes(w)).length;
    if (score > bestScore) { best = lang; bestScore = score; }
  }
  return best;
}

const positive = ['love', 'great', 'amazing', 'fast', 'clean', 'excellent', 'brilliant', 'welcome', 'rápido', 'bueno', 'génial', 'utile'];
const negative = ['hate', 'slow', 'broken', 'awful', 'confusing', 'buggy', 'painful', 'lento', 'lent'];

function sentiment(text: string): { score: number; label: 'positive' | 'negative' | 'neutral' } {
  const words = text.toLowerCase().split(/[^\p{L}]+/u);
  const score = words.filter((w) => positive.includes(w)).length - words.filter((w) => negative.includes(w)).length;
  return { score, label: score > 0 ? 'positive' : score < 0 ? 'negative' : 'neutral' };
}

export default definePipeline<Tweet>({
  name: 'tweets',
  description: 'Enrich saved tweets: content type, priority, language, sentiment, entities',
  input: 'samples/tweets.jsonl',
  output: 'out/tweets.jsonl',
  id: (t) => t.id,
  priority: (t) => priorityByType[contentType(t)],
  workers: 2,
  timeoutMs: 10_000,
  retry: { attempts: 3, backoffMs: 500, maxBackoffMs: 10_000 },
  process(t) {
    const type = contentType(t);
    return {
      type,
      priority: priorityByType[type],
      language: language(t.text),
      sentiment: sentiment(t.text),
      entities: {
        hashtags: t.text.match(/#[\p{L}\d_]+/gu) ?? [],
        mentions: t.text.match(/@\w+/g) ?? [],
        urls: t.text.match(/https?:\/\/\S+/g) ?? [],
      },
      engagement: (t.likes ?? 0) + 2 * (t.retweets ?? 0),
    };
  },
});
