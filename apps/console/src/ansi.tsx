import type { ReactNode } from 'react';

const COLORS = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
/** ESC [ params letter: a CSI sequence (SGR when the letter is m). */
const CSI = new RegExp(`${String.fromCharCode(27)}\\[([0-9;]*)([A-Za-z])`, 'g');

/** A log line with its ANSI SGR colours (30–37, 90–97, bold) as styled spans; other escapes are dropped. */
export function Ansi({ text }: { text: string }): ReactNode {
  const out: ReactNode[] = [];
  let style: { color?: string; bold?: boolean } = {};
  let i = 0;
  for (const m of text.matchAll(CSI)) {
    if (m.index > i) out.push(span(text.slice(i, m.index), style, out.length));
    i = m.index + m[0].length;
    if (m[2] !== 'm') continue;
    for (const code of (m[1] || '0').split(';').map(Number)) {
      if (code === 0) style = {};
      else if (code === 1) style = { ...style, bold: true };
      else if (code >= 30 && code <= 37) style = { ...style, color: COLORS[code - 30] };
      else if (code >= 90 && code <= 97) style = { ...style, color: `bright-${COLORS[code - 90]}` };
      else if (code === 39) style = { ...style, color: undefined };
    }
  }
  if (i < text.length) out.push(span(text.slice(i), style, out.length));
  return out;
}

function span(text: string, style: { color?: string; bold?: boolean }, key: number): ReactNode {
  if (!style.color && !style.bold) return text;
  return (
    <span key={key} className={[style.color ? `ansi-${style.color}` : '', style.bold ? 'ansi-bold' : ''].join(' ').trim()}>
      {text}
    </span>
  );
}
