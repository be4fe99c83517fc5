// A seeded stream of uniform numbers in [0, 1) for tests that draw their
// own shapes and values (mulberry32): the same cases on every run, so a
// tolerance that holds once holds in CI too, and a failure can be replayed.
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
