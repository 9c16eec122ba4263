import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Command as CommandType } from 'commander';
import { bareAllowFlags, collectAllowList } from '../engine/permissions.js';
import { exitWhenFlushed, printError } from './print-error.js';
import { attachToLauncher } from './sandbox-child.js';
import { importDashboard, runCommand, wantsDashboard, type RunFlags } from './commands.js';
import type { WatchFlags } from './watch-command.js';
import { trace, traceOrigin } from '../engine/trace.js';

// commander is CommonJS: `require` skips the export scan an ESM `import` runs over it first (~10 ms of the
// launcher's start, which every sandboxed run waits for before its child can start).
const { Command, InvalidArgumentError, Option } = createRequire(import.meta.url)('commander') as typeof import('commander');
type Command = CommandType;

traceOrigin();
trace('cli modules loaded');

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`Expected ${name} to be a positive integer, got "${v}"`);
    return n;
  };
}

function portArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError(`Expected --metrics-port to be a port number (0-65535), got "${v}"`);
  return n;
}

function workersArg(v: string): number | 'auto' {
  if (v === 'auto') return 'auto';
  if (v === '0') return 0; // only with --redis: a coordinator that leaves the work to other machines
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
    .option('--simulate', 'answer every provider call with the loopback simulator')
    .option('--redis <url>', 'distributed run through BullMQ on this Redis (redis://host:6379); `worker` processes help')
    .addOption(new Option('--metrics-port <n>', 'serve Prometheus metrics on this port').argParser(portArg))
    // Deno-style: a bare flag allows everything of its kind, `=A,B` only those (repeatable).
    .addOption(new Option('--allow-read [paths]', 'read files beyond the inputs and the pipeline\'s folder').argParser(collectAllowList))
    .addOption(new Option('--allow-write [paths]', 'write files beyond the output and the state').argParser(collectAllowList))
    .addOption(new Option('--allow-net [hosts]', 'reach hosts beyond the providers\' (HOST allows every port, HOST:PORT one)').argParser(collectAllowList))
    .addOption(new Option('--allow-env [names]', 'read environment variables beyond the providers\' keys').argParser(collectAllowList))
    .option('-A, --allow-all', 'no sandbox: any file, host, variable and child process');
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

  withRunFlags(program.command('watch').description('process the files already in DIRs (default: the pipeline\'s watch) and every new or changed file, until stopped'))
    .argument('<pipeline>', 'pipeline name or path')
    .argument('[dirs...]', 'folders to watch (recursively)')
    .option('--move-done <dir>', 'move each file there once all its records are done or failed')
    .addOption(new Option('--settle <ms>', 'read a file once it has not been written to for this long').argParser(positiveInt('--settle')))
    // Loaded on use: its engine import (and the SDKs behind it) cost ~0.6 s, and every other command would pay it.
    .action(async (pipeline: string, dirs: string[], flags: WatchFlags) => { process.exitCode = await (await import('./watch-command.js')).watchCommand(pipeline, dirs, flags); });

  withRunFlags(program.command('worker').description('serve distributed runs of PIPELINE from this machine: waits for one, exits on SIGINT/SIGTERM'))
    .argument('<pipeline>', 'pipeline name or path (the same file the coordinator runs)')
    // Loaded on use: BullMQ and the pool are not needed by the other commands.
    .action(async (pipeline: string, flags: RunFlags) => { process.exitCode = await (await import('./worker-command.js')).workerCommand(pipeline, flags); });

  program.command('status').description('checkpoint summary: counts, failed items with their errors, last run')
    .argument('[pipeline]', 'pipeline name (default: every pipeline with state)')
    .option('--state <dir>', 'state directory', '.pipeline-tui')
    .option('--redis <url>', 'list the machines of a distributed run (default: the Redis the run recorded)')
    .option('--json', 'one JSON object')
    .action(async (pipeline: string | undefined, flags: { state: string; json?: boolean; redis?: string }) => { process.exitCode = await (await import('./info-commands.js')).statusCommand(pipeline, flags); });

  program.command('list').description('the pipelines in ./pipelines/: name, file, description')
    .option('--json', 'one JSON array')
    .action(async (flags: { json?: boolean }) => { process.exitCode = await (await import('./info-commands.js')).listCommand(flags); });

  program.command('check').description('load, validate and type-check pipelines (default: every file in ./pipelines/); exit 1 on any problem')
    .argument('[pipelines...]', 'pipeline names or paths')
    .action(async (pipelines: string[]) => { process.exitCode = await (await import('./check.js')).checkCommand(pipelines); });

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
  attachToLauncher();
  try {
    await program.parseAsync(bareAllowFlags(argv));
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
await exitWhenFlushed();
