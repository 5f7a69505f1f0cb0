import { buildLogSubject, buildLogV1, buildStatusV1, BuildStatusV1, LogLine, LogStream, StepName } from '@kiln/contracts';
import type { EventBus } from '@kiln/platform';
import { Redactor } from '@kiln/domain';

const FLUSH_LINES = 200;
const FLUSH_MS = 200;
const MAX_LINE = 16 * 1024;

/** Publishes one step attempt's log lines in chunks; `(build, step, attempt, seq)` keys make retries harmless. */
export class StepLog {
  private seq = 0;
  private pending: LogLine[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private partial: Record<LogStream, string> = { stdout: '', stderr: '', system: '' };

  constructor(
    private readonly bus: EventBus,
    readonly buildId: string,
    readonly step: StepName,
    readonly attempt: number,
    private readonly redactor: Redactor = new Redactor([]),
  ) {}

  /** Text may hold several lines or a partial one; lines are split on `\n` and `\r`. */
  write(text: string, stream: LogStream = 'stdout'): void {
    const combined = this.partial[stream] + text;
    const parts = combined.split(/\r?\n|\r/);
    let rest = parts.pop() ?? '';
    // An unfinished line waits for its end (so redaction sees it whole), unless it grows too long.
    if (rest.length > MAX_LINE) {
      parts.push(rest);
      rest = '';
    }
    this.partial[stream] = rest;
    for (const line of parts) this.push(line, stream);
  }

  line(text: string, stream: LogStream = 'system'): void {
    this.push(text, stream);
  }

  /** Whole lines only reach here (chunks are joined first), so a secret split across two chunks is still found. */
  private push(text: string, stream: LogStream): void {
    const clean = this.redactor.redact(text);
    this.pending.push({ seq: this.seq++, time: new Date().toISOString(), stream, text: clean.length > MAX_LINE ? clean.slice(0, MAX_LINE) + ' …(cut)' : clean });
    if (this.pending.length >= FLUSH_LINES) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Resolves when every complete line written so far is stored in JetStream; `final` also sends unfinished lines. */
  async flush(final = false): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const stream of Object.keys(this.partial) as LogStream[]) {
      if (final && this.partial[stream]) {
        const rest = this.partial[stream];
        this.partial[stream] = '';
        this.push(rest, stream);
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
      }
    }
    const lines = this.pending;
    this.pending = [];
    const previous = this.flushing;
    this.flushing = (async () => {
      await previous;
      if (lines.length === 0) return;
      await this.bus.publish(
        buildLogV1,
        { buildId: this.buildId, step: this.step, attempt: this.attempt, lines },
        {
          subject: buildLogSubject(this.buildId),
          msgId: `${this.buildId}:${this.step}:${this.attempt}:${lines[0].seq}`,
        },
      );
    })();
    return this.flushing;
  }
}

export async function publishStatus(bus: EventBus, report: Omit<BuildStatusV1, 'at'> & { at?: string }): Promise<void> {
  await bus.publish(buildStatusV1, { ...report, at: report.at ?? new Date().toISOString() });
}
