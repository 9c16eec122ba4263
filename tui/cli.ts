import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { printError } from './print-error.js';
import { importDashboard, runCommand, statusCommand, listCommand, wantsDashboard, type RunFlags } from './commands.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`Expected ${name} to be a positive integer, got "${v}"`);
    return n;
  };
}

function workersArg(v: string): number | 'auto' {
  if (v === 'auto') return 'auto';
  return positiveInt('--workers')(v);
}

function withRunFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--workers <n>', 'worker threads (or "auto")').argParser(workersArg))
    .option('--state <dir>', 'state directory', '.pipeline-tui')
    .option('--out <path>', 'output file (default: the pipeline\'s output)')
    .option('--fresh', 'ignore the checkpoint; the old state and output are kept as backups')
    .addOption(new Option('--limit <n>', 'process at most N input records').argParser(positiveInt('--limit')))
    .option('--plain', 'plain progress lines (the default off a TTY)')
    .option('--json', 'one JSON event per line on stdout')
    .option('--tui', 'the dashboard (the default on a TTY)')
    .option('--simulate', 'answer every provider call with the loopback simulator');
}

export function buildProgram(): Command {
  const program = new Command('pipeline-tui')
    .description('Run batches of records through a TypeScript pipeline, in parallel, with a checkpoint and a live view.')
    .version(pkg.version, '--version')
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions()
    .exitOverride();

  withRunFlags(program.command('run').description('process INPUTs (files, folders, globs; default: the pipeline\'s input) and exit'))
    .argument('<pipeline>', 'pipeline name (in ./pipelines/) or path to a .ts/.mts/.js/.mjs file')
    .argument('[inputs...]', 'files, folders or globs')
    .action(async (pipeline: string, inputs: string[], flags: RunFlags) => { process.exitCode = await runCommand(pipeline, inputs, flags); });

  withRunFlags(program.command('retry').description('re-run the dead-lettered (failed) items only'))
    .argument('<pipeline>', 'pipeline name or path')
    .action(async (pipeline: string, flags: RunFlags) => { process.exitCode = await runCommand(pipeline, [], flags, { retryFailed: true }); });

  program.command('status').description('checkpoint summary: counts, failed items with their errors, last run')
    .argument('[pipeline]', 'pipeline name (default: every pipeline with state)')
    .option('--state <dir>', 'state directory', '.pipeline-tui')
    .option('--json', 'one JSON object')
    .action(async (pipeline: string | undefined, flags: { state: string; json?: boolean }) => { process.exitCode = await statusCommand(pipeline, flags); });

  program.command('list').description('the pipelines in ./pipelines/: name, file, description')
    .option('--json', 'one JSON array')
    .action(async (flags: { json?: boolean }) => { process.exitCode = await listCommand(flags); });

  // `pipeline-tui [PIPELINE]`: the dashboard on a TTY; the same as `run` elsewhere.
  // On a terminal the dashboard stays on its DONE screen until q; with no PIPELINE, a picker comes first.
  withRunFlags(program).argument('[pipeline]').action(async (pipeline: string | undefined, flags: RunFlags) => {
    if (!pipeline) {
      const picked = wantsDashboard(flags) && process.stdin.isTTY ? await pickFromPipelinesFolder(flags) : undefined;
      if (picked === undefined) { program.outputHelp(); process.exitCode = 2; return; }
      if (picked === null) return;
      pipeline = picked;
    }
    process.exitCode = await runCommand(pipeline, [], flags, { holdDashboard: true });
  });
  return program;
}

/** The picker over ./pipelines/ (Ink, loaded only here): a file, `null` when the user quit, `undefined` when there is nothing to pick. */
async function pickFromPipelinesFolder(flags: RunFlags): Promise<string | null | undefined> {
  const { pickPipeline } = await importDashboard();
  const picked = await pickPipeline({ stateDir: flags.state });
  if (picked.found === 0) process.stderr.write('pipeline-tui: no pipelines in ./pipelines/; pass one: pipeline-tui path/to/pipeline.ts\n');
  return picked.found === 0 ? undefined : picked.file;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) {
      process.exitCode = ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version' ? 0 : 2;
      return;
    }
    process.exitCode = printError(e);
  }
}

await main(process.argv);
// Exit once the command is done and our output is flushed: a timer left behind by a library (threads.js
// keeps a worker's start-up timer after the worker is stopped) must not hold a finished CLI open.
// `watch` and `worker` resolve only when they are stopped, so this never cuts one short.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write('', () => r()))));
process.exit(process.exitCode ?? 0);
