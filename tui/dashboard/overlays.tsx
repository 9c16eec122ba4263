import { Box, Text } from 'ink';
import { keyHelp } from '../keys.js';
import { oneLine } from '../sanitize.js';
import { useDashboardShallow } from './context.js';
import { ago, grouped } from './format.js';
import { Line } from './panel.js';

/** Every key, in place of the panels until ?, Esc or Enter. */
export function HelpOverlay({ height }: { height: number }) {
  const width = Math.max(...keyHelp.map(([k]) => k.length)) + 3;
  return (
    <Box flexDirection="column" height={height}>
      <Line bold color="cyan">Keys   (? or Esc to close)</Line>
      {keyHelp.map(([keys, does]) => (
        <Box key={keys} height={1}>
          <Text wrap="truncate-end"><Text bold>{keys.padEnd(width)}</Text>{does}</Text>
        </Box>
      ))}
    </Box>
  );
}

/** Shown before the run when the last one did not finish: continue from the checkpoint, or start fresh. */
export function ResumePrompt() {
  const r = useDashboardShallow((s) => ({ pipeline: s.pipeline, resume: s.resume }));
  const info = r.resume;
  if (!info) return null;
  const left = info.left === null ? '' : ` · left ${grouped(info.left)}`;
  return (
    <Box flexDirection="column">
      <Line bold>{`${oneLine(r.pipeline)}: unfinished checkpoint`}</Line>
      <Line>{`The last run ${oneLine(info.status)} ${ago(info.at)}: done ${grouped(info.done)} · failed ${grouped(info.failed)}${left}`}</Line>
      <Box height={1} />
      <Line><Text bold color="cyan">{'c / Enter  '}</Text>continue from the checkpoint (done items are skipped)</Line>
      <Line><Text bold color="cyan">{'f          '}</Text>start fresh (the old state and output are kept as a backup)</Line>
      <Line><Text bold color="cyan">{'q          '}</Text>quit without running</Line>
    </Box>
  );
}

/** Instead of a garbled dashboard: how big the terminal needs to be. */
export function TooSmall({ need, columns, rows }: { need: { columns: number; rows: number }; columns: number; rows: number }) {
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end" bold color="yellow">{`Terminal too small (need ${need.columns}x${need.rows})`}</Text>
      <Text wrap="truncate-end" dimColor>{`now ${columns}x${rows}; enlarge it, or q to quit`}</Text>
    </Box>
  );
}
