import { CacheExports } from './cache-exports';

const REF = 'registry/app/kiln-cache:rule-1';
const settledSoon = (p: Promise<void> | null) => Promise.race([p?.then(() => 'settled'), new Promise((r) => setTimeout(() => r('waiting'), 20))]);

describe("a worker's layer cache exports", () => {
  it('skips the export of a build when a newer build of the rule has started building', () => {
    const c = new CacheExports();
    c.building(REF, 'a');
    expect(c.worthExporting(REF, 'a')).toBe(true);
    c.building(REF, 'b');
    expect(c.worthExporting(REF, 'a')).toBe(false);
    expect(c.worthExporting(REF, 'b')).toBe(true);
    // Other rules are not affected.
    expect(c.worthExporting('registry/other/kiln-cache:rule-2', 'a')).toBe(true);
  });

  it('exports again once the newest build is done, whoever builds next', () => {
    const c = new CacheExports();
    c.building(REF, 'a');
    c.building(REF, 'b');
    c.settled('b');
    expect(c.worthExporting(REF, 'c')).toBe(true);
    c.building(REF, 'c');
    expect(c.worthExporting(REF, 'c')).toBe(true);
  });

  it("makes the next build of the rule wait for an owed export, not the build's own", async () => {
    const c = new CacheExports();
    c.owe(REF, 'a');
    expect(c.owedBefore(REF, 'a')).toBeNull();
    const waiting = c.owedBefore(REF, 'b');
    expect(await settledSoon(waiting)).toBe('waiting');
    c.settled('a');
    expect(await settledSoon(waiting)).toBe('settled');
    expect(c.owedBefore(REF, 'b')).toBeNull();
  });

  it('a newer owed export releases whoever waited on the older one', async () => {
    const c = new CacheExports();
    c.owe(REF, 'a');
    const waiting = c.owedBefore(REF, 'c');
    c.owe(REF, 'b');
    expect(await settledSoon(waiting)).toBe('settled');
    expect(await settledSoon(c.owedBefore(REF, 'c'))).toBe('waiting');
  });

  it('waits out the quiet period when no newer build of the rule comes', async () => {
    const c = new CacheExports();
    c.building(REF, 'a');
    const t0 = Date.now();
    await c.quietPeriod(REF, 'a', 60);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(c.worthExporting(REF, 'a')).toBe(true);
  });

  it("ends the quiet period as soon as a newer build of the rule starts building, whose export replaces this one's", async () => {
    const c = new CacheExports();
    c.building(REF, 'a');
    const quiet = c.quietPeriod(REF, 'a', 60_000);
    c.building('registry/other/kiln-cache:rule-2', 'x');
    expect(await settledSoon(quiet)).toBe('waiting');
    c.building(REF, 'b');
    expect(await settledSoon(quiet)).toBe('settled');
    expect(c.worthExporting(REF, 'a')).toBe(false);
  });

  it('ends the quiet period when the export is cancelled, and does not wait for an export already superseded', async () => {
    const c = new CacheExports();
    c.building(REF, 'a');
    const abort = new AbortController();
    const quiet = c.quietPeriod(REF, 'a', 60_000, abort.signal);
    expect(await settledSoon(quiet)).toBe('waiting');
    abort.abort();
    expect(await settledSoon(quiet)).toBe('settled');
    c.building(REF, 'b');
    expect(await settledSoon(c.quietPeriod(REF, 'a', 60_000))).toBe('settled');
  });
});
