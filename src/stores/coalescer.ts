/**
 * Runs one operation for everything submitted while the previous one was running: concurrent
 * callers (the store's partitions) share a read or a write instead of queueing one per caller. The
 * first caller after a quiet spell goes at once, so a lone caller waits no longer than before.
 *
 * `run` gets the items in submission order and returns one result per item; when it throws, every
 * caller of that round gets the error, except for an error `splitOn` accepts (the target refused
 * the combined write because of one caller's item): then each item of the round runs again alone,
 * in order, and each caller gets its own outcome, so one caller's bad item fails no other caller.
 * `maxWeight` caps a round (by `weightOf`, at least one item).
 */
export class Coalescer<I, O> {
  private queue: Array<{ item: I; resolve: (result: O) => void; reject: (error: unknown) => void }> = [];
  private running = false;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: { weightOf?: (item: I) => number; maxWeight?: number; splitOn?: (error: unknown) => boolean } = {},
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.running || this.queue.length === 0) return;
    const { weightOf, maxWeight = Number.POSITIVE_INFINITY } = this.options;
    let weight = 0;
    let count = 0;
    while (count < this.queue.length) {
      const w = weightOf ? weightOf(this.queue[count]!.item) : 1;
      if (count > 0 && weight + w > maxWeight) break;
      weight += w;
      count += 1;
    }
    const round = this.queue.splice(0, count);
    this.running = true;
    void Promise.resolve()
      .then(() => this.run(round.map((entry) => entry.item)))
      .then(
        (results) => round.forEach((entry, i) => entry.resolve(results[i]!)),
        async (error: unknown) => {
          if (round.length === 1 || !this.options.splitOn?.(error)) return round.forEach((entry) => entry.reject(error));
          for (const entry of round) {
            await this.run([entry.item]).then(
              (results) => entry.resolve(results[0]!),
              (alone: unknown) => entry.reject(alone),
            );
          }
        },
      )
      .finally(() => {
        this.running = false;
        this.next();
      });
  }
}
