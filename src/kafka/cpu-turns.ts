/**
 * Turns on the event loop for the CPU-bound steps of the stages of one process (decoding a slice,
 * the stage's work on it, encoding its outputs), one step per loop iteration. Those steps are
 * promise chains that never wait for I/O on their own: left alone, every partition of every stage
 * would run its step in the same iteration, and I/O that completed meanwhile (an acknowledgement,
 * a finished store write) would wait behind all of them, which starves a stage that mostly waits
 * (the store) while the others have work. With turns, I/O is served between any two steps.
 *
 * Of the steps waiting, the one of the stage furthest down the pipeline goes first (a higher
 * `priority`), first come first served among equals: work already mapped is carried to the store
 * before more is mapped, so while a backlog is worked off the store completes what the process
 * can do rather than map running ahead on the thread they share, and fewer fetched records wait in
 * memory. So that new changes still move while the stages after map have a long backlog of their
 * own, a step passed over {@link MAX_PASSED} times goes next whatever its priority.
 */
export class CpuTurns {
  private readonly waiting: Waiter[] = [];
  private scheduled = false;

  take(priority = 0): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push({ resolve, priority, passed: 0 });
      this.schedule();
    });
  }

  /** How many steps wait for a turn. */
  get pending(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.next()();
      this.schedule();
    });
  }

  /** Takes the waiter whose turn it is off the queue, counting a pass for every older one. */
  private next(): () => void {
    let chosen = 0;
    if (this.waiting[0]!.passed < MAX_PASSED) {
      for (let i = 1; i < this.waiting.length; i++) if (this.waiting[i]!.priority > this.waiting[chosen]!.priority) chosen = i;
    }
    for (let i = 0; i < chosen; i++) this.waiting[i]!.passed += 1;
    return this.waiting.splice(chosen, 1)[0]!.resolve;
  }
}

interface Waiter {
  resolve: () => void;
  priority: number;
  /** How many later waiters went before this one. */
  passed: number;
}

/** How many times a waiting step may be overtaken by steps of stages further down the pipeline. */
export const MAX_PASSED = 8;
