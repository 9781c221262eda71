/** Numbers in [0, 1) that repeat for a seed, so a failure of a random test can be run again. */
export function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}
