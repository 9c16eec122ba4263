import type { ReactNode } from 'react';
import { Box, Text } from 'ink';

export interface PanelProps {
  title: string;
  /** Content lines; the panel is exactly this tall plus its title (and border), and clips the rest. */
  lines: number;
  framed: boolean;
  focused?: boolean;
  /** Text after the title, dimmed. */
  aside?: string;
  /** Shares a row with its siblings (equal widths); otherwise it spans its container. */
  share?: boolean;
  /** Space kept on the right when unframed and side by side. */
  gutter?: number;
  children?: ReactNode;
}

/** A titled block. Roomy terminals get a border; compact ones a title line, to save two rows per panel. */
export function Panel({ title, lines, framed, focused = false, aside, share = false, gutter = 0, children }: PanelProps) {
  const head = (
    <Box height={1}>
      <Text wrap="truncate-end">
        <Text bold inverse={focused} color={focused ? 'cyan' : undefined}>{focused && !framed ? ` ${title} ` : title}</Text>
        {aside ? <Text dimColor>{`  ${aside}`}</Text> : null}
      </Text>
    </Box>
  );
  const body = <Box flexDirection="column" height={lines}>{children}</Box>;
  const sizing = share ? { flexGrow: 1, flexBasis: 0 } : { width: '100%' as const, flexShrink: 0 };
  if (framed) {
    return (
      <Box {...sizing} flexDirection="column" borderStyle="round" borderColor={focused ? 'cyan' : 'gray'} paddingX={1} height={lines + 3}>
        {head}
        {body}
      </Box>
    );
  }
  return (
    <Box {...sizing} flexDirection="column" height={lines + 1} paddingRight={gutter}>
      {head}
      {body}
    </Box>
  );
}

/** `Label ........ value` on one line, the value right-aligned. */
export function Row({ label, value, color, dim = false }: { label: string; value: string; color?: string | undefined; dim?: boolean }) {
  return (
    <Box height={1} justifyContent="space-between">
      <Text wrap="truncate-end" dimColor={dim}>{label}</Text>
      <Text color={color} dimColor={dim}>{` ${value}`}</Text>
    </Box>
  );
}

/** One line of text, cut at the panel's edge. The caller passes sanitized text. */
export function Line({ children, color, dim = false, bold = false, inverse = false }: { children: ReactNode; color?: string | undefined; dim?: boolean; bold?: boolean; inverse?: boolean }) {
  return (
    <Box height={1}>
      <Text wrap="truncate-end" color={color} dimColor={dim} bold={bold} inverse={inverse}>{children}</Text>
    </Box>
  );
}
