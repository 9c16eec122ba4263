// Regenerates the shipped sample inputs (deterministic: the same files every time).
// Usage: node samples/generate.mjs   — the files are committed; this is only needed to change them.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as XLSX from 'xlsx';

const here = path.dirname(fileURLToPath(import.meta.url));
let seed = 42;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const pick = (a) => a[Math.floor(rnd() * a.length)];

// --- tweets: a saved-tweets export --------------------------------------------------------------
{
  const users = ['ada_dev', 'graceh', 'linus_t', 'mlresearcher', 'rustacean', 'pydata', 'frontend_fan', 'dataviz', 'k8s_ops', 'nlp_nerd'];
  const topics = ['Rust', 'TypeScript', 'LLMs', 'Postgres', 'Kubernetes', 'React', 'vector search', 'WebAssembly', 'Python', 'SQLite'];
  const pos = ['love', 'great', 'amazing', 'excellent', 'brilliant', 'fantastic'];
  const neg = ['hate', 'awful', 'terrible', 'broken', 'painful', 'disappointing'];
  const templates = [
    (t) => ({ text: `Just open-sourced my ${t} toolkit: https://github.com/${pick(users)}/${t.toLowerCase().replace(/\s/g, '-')}-kit feedback welcome` }),
    (t) => ({ text: `New paper on ${t}: "Scaling ${t} to a billion rows" https://arxiv.org/abs/2410.${String(Math.floor(rnd() * 99999)).padStart(5, '0')} results look ${pick(pos)}` }),
    (t) => ({ text: `🧵 1/${3 + Math.floor(rnd() * 8)} Everything I learned shipping ${t} in production at Microsoft. A thread.` }),
    (t) => ({ text: `Look at this ${t} dashboard I built https://pic.example.com/${Math.floor(rnd() * 1e6)}.png`, media: [{ type: 'photo' }] }),
    (t) => ({ text: `Honestly ${t} is ${pick(rnd() < 0.5 ? pos : neg)} today. #${t.replace(/\s/g, '')} @${pick(users)}` }),
    (t) => ({ text: `El nuevo lanzamiento de ${t} es muy rápido y nuestro equipo está contento con los resultados de esta semana` }),
    (t) => ({ text: `Le support de ${t} dans notre projet est vraiment utile pour les développeurs et nous sommes très contents` }),
  ];
  const lines = [];
  for (let i = 0; i < 600; i++) {
    const t = pick(topics);
    const g = pick(templates)(t);
    const tw = { id: String(1700000000000000000n + BigInt(i * 7919)), author: pick(users), created_at: new Date(Date.UTC(2026, 9, 1) + i * 613000).toISOString(), text: g.text, likes: Math.floor(rnd() * 5000), retweets: Math.floor(rnd() * 800) };
    if (g.media) tw.media = g.media;
    lines.push(JSON.stringify(tw));
  }
  writeFileSync(path.join(here, 'tweets.jsonl'), lines.join('\n') + '\n');
}

// --- documents: a folder of mixed business documents (some invalid on purpose) -------------------
{
  const dir = path.join(here, 'documents');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const companies = ['Acme GmbH', 'Globex Ltd', 'Initech SA', 'Umbrella BV', 'Hooli Inc', 'Stark Industries', 'Wayne Enterprises'];
  const people = ['Maria Lopez', 'John Smith', 'Aiko Tanaka', 'Omar Haddad', 'Lena Fischer'];
  for (let i = 1; i <= 120; i++) {
    const kind = ['invoice', 'invoice', 'contract', 'resume', 'report', 'email'][i % 6];
    const date = new Date(Date.UTC(2026, (i * 3) % 12, 1 + (i % 27))).toISOString().slice(0, 10);
    const broken = i % 17 === 0; // a missing required field: these end in the dead-letter list
    let body;
    if (kind === 'invoice') {
      body = `# Invoice\n\n${broken ? '' : `Invoice number: INV-${2026}${String(i).padStart(4, '0')}\n`}Date: ${date}\nFrom: ${pick(companies)}\nBill to: ${pick(companies)}\n\n| Item | Amount |\n|---|---|\n| Consulting | ${(500 + i * 13).toFixed(2)} |\n\nTotal due: EUR ${(500 + i * 13).toFixed(2)}\nPayment terms: 30 days\n`;
    } else if (kind === 'contract') {
      body = `SERVICE AGREEMENT\n\nThis agreement is made on ${date} between ${pick(companies)} ("Provider") and ${pick(companies)} ("Client").\n${broken ? '' : `Term: ${12 + (i % 24)} months\n`}Governing law: ${pick(['Germany', 'England and Wales', 'France'])}\n\n1. Services. The Provider shall deliver the services described in Annex A.\n2. Fees. Fees are invoiced monthly.\n`;
    } else if (kind === 'resume') {
      body = `# ${pick(people)}\n\n${broken ? '' : `Email: ${pick(['maria', 'john', 'aiko', 'omar', 'lena'])}${i}@example.com\n`}Phone: +49 30 ${1000000 + i}\n\n## Experience\n- Senior engineer at ${pick(companies)} (2019–2026)\n- Engineer at ${pick(companies)} (2015–2019)\n\n## Skills\nTypeScript, Rust, PostgreSQL, Kubernetes\n`;
    } else if (kind === 'report') {
      body = `# Quarterly report Q${1 + (i % 4)} 2026\n\nPrepared by ${pick(people)} on ${date}.\n\nRevenue grew ${(i % 30) + 2}% quarter over quarter. Churn fell to ${(i % 5) + 1}.${i % 10}%.\n\n## Risks\nSupplier concentration; currency exposure.\n`;
    } else {
      body = `From: ${pick(people)} <${pick(['maria', 'john', 'aiko'])}@example.com>\nTo: team@example.com\nSubject: ${pick(['Meeting notes', 'Release plan', 'Quick question'])}\nDate: ${date}\n\nHi all,\n\nPlease find the notes from today's meeting below.\n\nBest,\n${pick(people)}\n`;
    }
    writeFileSync(path.join(dir, `${String(i).padStart(3, '0')}-${kind}.${i % 2 ? 'md' : 'txt'}`), body);
  }
}

// --- humanize: one long markdown essay ----------------------------------------------------------
{
  const sections = ['Why batch processing still matters', 'Rate limits are a feature', 'Checkpoints save weekends', 'Observability for humans', 'Failure is normal', 'Scaling out without drama', 'What we learned'];
  const sentences = [
    'It is important to note that the system leverages a robust and scalable architecture.',
    'Furthermore, the pipeline facilitates seamless integration with a myriad of data sources.',
    'In today\'s fast-paced world, teams need tools that empower them to deliver value.',
    'Additionally, the checkpoint mechanism ensures that no work is ever lost in the process.',
    'Moreover, the dashboard provides a comprehensive overview of every aspect of the run.',
    'It goes without saying that rate limits must be respected at all times.',
    'This holistic approach enables stakeholders to make data-driven decisions.',
    'Ultimately, the goal is to streamline workflows and unlock new opportunities.',
  ];
  let md = '# Running large batches with confidence\n\n';
  for (const s of sections) {
    md += `## ${s}\n\n`;
    for (let p = 0; p < 3; p++) md += Array.from({ length: 4 + Math.floor(rnd() * 3) }, () => pick(sentences)).join(' ') + '\n\n';
  }
  mkdirSync(path.join(here, 'humanize'), { recursive: true });
  writeFileSync(path.join(here, 'humanize', 'essay.md'), md);
}

// --- suppliers: rows from a purchasing export (Frs.xlsx) and the reference list -------------------
{
  const reference = [
    ['S-001', 'Müller Maschinenbau GmbH', 'Stuttgart'], ['S-002', 'Dupont Électricité SARL', 'Lyon'], ['S-003', 'Nordic Timber AB', 'Göteborg'],
    ['S-004', 'Rossi Componenti S.p.A.', 'Milano'], ['S-005', 'Van den Berg Logistics B.V.', 'Rotterdam'], ['S-006', 'Kowalski Stal Sp. z o.o.', 'Kraków'],
    ['S-007', 'García Plásticos S.L.', 'Valencia'], ['S-008', 'Schneider Präzisionstechnik AG', 'Zürich'], ['S-009', 'Oliveira Têxteis Lda', 'Porto'],
    ['S-010', 'Novák Elektro s.r.o.', 'Brno'], ['S-011', 'Smith & Sons Fasteners Ltd', 'Sheffield'], ['S-012', 'Bauer Verpackung GmbH', 'München'],
  ].map(([id, name, city]) => ({ id, name, city }));
  const variants = (r) => [
    r.name,
    r.name.toUpperCase(),
    r.name.replace(/\s+(GmbH|SARL|AB|S\.p\.A\.|B\.V\.|Sp\. z o\.o\.|S\.L\.|AG|Lda|s\.r\.o\.|Ltd)$/i, ''),
    r.name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace('ü', 'ue'),
    r.name.replace(/(\w)(\w)(\w*)$/, '$2$1$3'), // a typo
  ];
  const rows = [];
  for (let i = 0; i < 240; i++) {
    const known = rnd() < 0.85;
    const r = pick(reference);
    rows.push({
      Row: i + 1,
      Supplier: known ? pick(variants(r)) : pick(['Unknown Trading Co', 'Zeta Imports', 'Blue Ocean Supply', 'Northwind Traders']),
      City: known ? (rnd() < 0.9 ? r.city : pick(['Berlin', 'Paris'])) : pick(['Oslo', 'Wien', 'Dublin']),
      Amount: Math.round(rnd() * 100000) / 100,
      Ordered: new Date(Date.UTC(2026, Math.floor(rnd() * 12), 1 + Math.floor(rnd() * 27))),
    });
  }
  mkdirSync(path.join(here, 'suppliers'), { recursive: true });
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(wb, XLSX.utils.json_to_sheet(rows, { cellDates: true }), 'Orders');
  writeFileSync(path.join(here, 'suppliers', 'Frs.xlsx'), XLSX.write(wb, { type: 'buffer', bookType: 'xlsx' }));
  writeFileSync(path.join(here, 'suppliers', 'reference.json'), JSON.stringify(reference, null, 2) + '\n');
}
console.log('samples written');
