// @ts-check
const Sequencer = require('@jest/test-sequencer').default;

/**
 * Files known to run longest start first, so that the last minutes of a run are not one long file alone (the suite
 * runs files on several jest workers and in two processes). Jest orders by the durations of earlier runs when it has
 * them; a clean clone has none, and its fallback (larger files first) puts the short scale-out file, which waits for a
 * killed worker's builds for two minutes, last. Only the order depends on this list.
 */
const LONGEST_FIRST = ['scale-out', 'buildkit', 'build-options', 'shutdown', 'build-recovery', 'log-storage'];
const rank = (/** @type {string} */ path) => {
  const i = LONGEST_FIRST.findIndex((name) => path.endsWith(`/${name}.e2e-spec.ts`));
  return i < 0 ? LONGEST_FIRST.length : i;
};

class LongestFirst extends Sequencer {
  /** @param {import('@jest/test-result').Test[]} tests */
  sort(tests) {
    // Array sort is stable: within a rank, jest's own order stays.
    return super.sort(tests).sort((a, b) => rank(a.path) - rank(b.path));
  }
}

module.exports = LongestFirst;
