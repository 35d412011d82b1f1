/**
 * Delta debugging (Zeller and Hildebrandt's ddmin): the smallest subset of `items` for which
 * `stillFails` holds, 1-minimal — removing any one item more makes it pass. Each round's
 * subsets are judged together, so a caller that runs them in parallel shrinks in fewer waits;
 * the first subset (in order) that still fails is taken, so the result is deterministic when
 * the judgements are.
 */
export async function shrinkSet<T>(
  items: readonly T[],
  stillFails: (subsets: T[][]) => Promise<boolean[]>,
): Promise<T[]> {
  let current = [...items];
  let n = 2;
  while (current.length >= 2) {
    const chunks = split(current, n);
    const alone = await firstFailing(chunks, stillFails);
    if (alone) {
      current = alone;
      n = 2;
      continue;
    }
    // With two chunks each complement is the other chunk, judged already.
    const complements =
      n === 2 ? [] : chunks.map((_, i) => chunks.filter((_, j) => j !== i).flat());
    const without = await firstFailing(complements, stillFails);
    if (without) {
      current = without;
      n = Math.max(n - 1, 2);
      continue;
    }
    if (n >= current.length) break;
    n = Math.min(n * 2, current.length);
  }
  return current;
}

async function firstFailing<T>(
  subsets: T[][],
  stillFails: (subsets: T[][]) => Promise<boolean[]>,
): Promise<T[] | undefined> {
  if (!subsets.length) return undefined;
  const verdicts = await stillFails(subsets);
  return subsets.find((_, i) => verdicts[i]);
}

/** `items` in `n` chunks as even as can be, in order. */
function split<T>(items: T[], n: number): T[][] {
  const chunks: T[][] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = start + Math.floor((items.length - start) / (n - i));
    if (end > start) chunks.push(items.slice(start, end));
    start = end;
  }
  return chunks;
}
