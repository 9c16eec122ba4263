import { definePipeline, PermanentError } from 'pipeline-tui';

/** What the .txt/.md reader gives: one record per file. */
interface Doc { path: string; text: string }

export type DocType = 'invoice' | 'contract' | 'resume' | 'report' | 'email' | 'unknown';

/** Signals per type; the type with the most matches wins. Deliberately simple and inspectable. */
const signals: Record<Exclude<DocType, 'unknown'>, RegExp[]> = {
  invoice: [/\binvoice\b/i, /\btotal due\b/i, /\bbill to\b/i, /\bpayment terms\b/i],
  contract: [/\bagreement\b/i, /\bgoverning law\b/i, /\bterm:/i, /\("?provider"?\)/i],
  resume: [/^##\s*experience/im, /^##\s*skills/im, /\bphone:/i],
  report: [/\bquarterly report\b/i, /\brevenue\b/i, /^##\s*risks/im],
  email: [/^from:/im, /^to:/im, /^subject:/im],
};

export function classify(text: string): DocType {
  let best: DocType = 'unknown';
  let bestScore = 0;
  for (const [type, res] of Object.entries(signals) as [Exclude<DocType, 'unknown'>, RegExp[]][]) {
    const score = res.filter((re) => re.test(text)).length;
    if (score > bestScore) { best = type; bestScore = score; }
  }
  return bestScore >= 2 ? best : 'unknown';
}

const field = (text: string, re: RegExp): string | undefined => re.exec(text)?.[1]?.trim();

/** Required fields per type: a document missing one cannot be filed and goes to the dead-letter list. */
const extractors: Record<Exclude<DocType, 'unknown'>, { required: string[]; extract: (t: string) => Record<string, string | number | undefined> }> = {
  invoice: {
    required: ['invoiceNumber', 'date', 'total'],
    extract: (t) => ({
      invoiceNumber: field(t, /invoice number:\s*(\S+)/i),
      date: field(t, /date:\s*(\d{4}-\d{2}-\d{2})/i),
      from: field(t, /from:\s*(.+)/i),
      billTo: field(t, /bill to:\s*(.+)/i),
      total: ((v) => (v === undefined ? undefined : Number(v)))(field(t, /total due:\s*[A-Z]{3}\s*([\d.]+)/i)),
      currency: field(t, /total due:\s*([A-Z]{3})/i),
    }),
  },
  contract: {
    required: ['date', 'termMonths', 'law'],
    extract: (t) => ({
      date: field(t, /made on\s*(\d{4}-\d{2}-\d{2})/i),
      parties: field(t, /between\s+(.+?)\s+\("?Provider/i),
      termMonths: ((v) => (v === undefined ? undefined : Number(v)))(field(t, /term:\s*(\d+)\s*months/i)),
      law: field(t, /governing law:\s*(.+)/i),
    }),
  },
  resume: {
    required: ['name', 'email'],
    extract: (t) => ({ name: field(t, /^#\s+(.+)$/m), email: field(t, /email:\s*(\S+@\S+)/i), phone: field(t, /phone:\s*(.+)/i) }),
  },
  report: {
    required: ['title'],
    extract: (t) => ({ title: field(t, /^#\s+(.+)$/m), author: field(t, /prepared by\s+(.+?)\s+on/i), revenueGrowthPct: ((v) => (v === undefined ? undefined : Number(v)))(field(t, /revenue grew\s*(\d+)%/i)) }),
  },
  email: {
    required: ['from', 'subject'],
    extract: (t) => ({ from: field(t, /^from:\s*(.+)$/im), to: field(t, /^to:\s*(.+)$/im), subject: field(t, /^subject:\s*(.+)$/im), date: field(t, /^date:\s*(.+)$/im) }),
  },
};

// Three tiers: money first, legal next, the rest when there is time.
const tier = (type: DocType): number => (type === 'invoice' ? 10 : type === 'contract' ? 5 : 0);

export default definePipeline<Doc>({
  name: 'documents',
  description: 'Classify documents, validate required fields, extract key fields (invalid ones dead-lettered)',
  input: 'samples/documents/',
  output: 'out/documents.jsonl',
  id: (d) => d.path,
  priority: (d) => tier(classify(d.text)),
  workers: 2,
  timeoutMs: 10_000,
  retry: { attempts: 2, backoffMs: 200 },
  process(d) {
    const type = classify(d.text);
    if (type === 'unknown') throw new PermanentError(`Cannot tell what kind of document ${d.path} is`);
    const { required, extract } = extractors[type];
    const fields = extract(d.text);
    const missing = required.filter((k) => fields[k] === undefined || Number.isNaN(fields[k]));
    if (missing.length > 0) throw new PermanentError(`${type} ${d.path} is missing required field(s): ${missing.join(', ')}`);
    return { type, tier: tier(type), fields, words: d.text.split(/\s+/).filter(Boolean).length };
  },
});
