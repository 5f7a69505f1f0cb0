import type { PushFields } from './normalize';

/** What webhook-ingest received, exactly: headers (lower-cased) and the raw body bytes. */
export interface Delivery {
  sourceId: string;
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  contentType: string;
}

/** The outcome of reading a delivery: continue with an event, or stop with a reason and an HTTP status. */
export type Outcome =
  | { kind: 'event'; deliveryId: string; event: PushFields; replayKey?: string }
  | { kind: 'ping'; deliveryId: string; replayKey?: string }
  | { kind: 'ignored'; deliveryId: string; reason: string; replayKey?: string }
  | { kind: 'refused'; status: 400 | 401; reason: string };

export interface ProviderAdapter {
  /** Verify the delivery against the source's secret over the exact bytes, then parse and normalize it. */
  read(delivery: Delivery, secret: string): Outcome;
}
