// Entry of a sandboxed child (bin/ picks it when PIPELINE_TUI_SANDBOX is set): the launcher already parsed
// and checked the command line and passed the result (SandboxSpec.command), so the child runs the command
// without loading the argument parser. A spec without one (`watch`, `worker`) goes through the CLI as before.
import { activeSandbox } from '../engine/sandbox.js';
import { trace, traceOrigin } from '../engine/trace.js';
import { runCommand, type ParsedRun } from './commands.js';
import { exitWhenFlushed, printError } from './print-error.js';
import { attachToLauncher } from './sandbox-child.js';

const command = activeSandbox()?.command as ParsedRun | undefined;
if (command === undefined) {
  await import('./cli.js');
} else {
  traceOrigin();
  trace('cli modules loaded');
  attachToLauncher();
  try {
    process.exitCode = await runCommand(command.ref, command.inputs, command.flags, command.extra);
  } catch (e) {
    process.exitCode = printError(e);
  }
  await exitWhenFlushed();
}
