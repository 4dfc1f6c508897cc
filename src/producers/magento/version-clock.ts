/**
 * The source_version of Magento webhook items: a hybrid logical clock kept by the ingress process.
 *
 * The module stamps a request with its send time in whole seconds, and one queue flush of more
 * than 50 items goes out as several requests with the same `timestamp`. "timestamp + item index"
 * therefore ranked item 30 of a flush's first request above item 5 of its second one, and a newer
 * save lost to an older one. Every item instead gets, in nanoseconds since the epoch (the scale of
 * every connector):
 *
 *   version = max(source, arrival, previous + 1)
 *   source  = min(the item's updated_at, else the body's timestamp;  arrival + maxLead)
 *
 * `arrival` is this process's clock when the request is read, `previous` the last version it issued,
 * so items are ordered by arrival, and within a request by index. That is the module's own order:
 * it sends one request after the other, and its queue holds ids, not payloads (plan §3.1), so it
 * reads the entity when it builds a request and the later request carries the later content. A
 * batch resent after a 503 carries content at least as new as what was published of it before, so
 * its fresh, higher versions are right. Replicas behind a load balancer are ordered as well as
 * their clocks agree. `source` only matters when the sender's clock is ahead of this one; `maxLead`
 * bounds how far, so a body dated in the future cannot outrank the real updates after it (a
 * version far ahead of the clock would win against everything sent until the clock caught up).
 * Within the lead the whole-second timestamp decides again, and replicas could mis-order the
 * requests of one flush, which is why the configured lead defaults to 0.
 * Versions stay close to the clock: below 2^63 until the year 2262.
 */
export interface VersionClock {
  /** Versions for the items of one request, in index order, and what shaped them. */
  stamp(sourceMicros: readonly bigint[]): StampResult;
}

export interface StampResult {
  versions: bigint[];
  /** This process's clock when the versions were issued, in microseconds since the epoch. */
  arrivalMicros: bigint;
  /** The furthest any item's source time was ahead of the clock, in microseconds (0 when none was). */
  sourceLeadMicros: bigint;
  /** Items whose source time was more than the allowed lead ahead and was cut to it. */
  capped: number;
}

export interface VersionClockOptions {
  /** How far ahead of this process's clock a sender's time may still set a version (seconds). */
  maxLeadSeconds: number;
  /** Epoch milliseconds; the wall clock by default (replicas compare their versions through it). */
  now?: () => number;
}

const NANOS_PER_MICRO = 1000n;
const NANOS_PER_MILLI = 1_000_000n;

export interface ClockState {
  /** The last version issued; 0 before the first. */
  previous: bigint;
  arrivalNanos: bigint;
  maxLeadNanos: bigint;
}

/** The rule above as a pure function: versions for items with these source times (µs). */
export function stampVersions(sourceMicros: readonly bigint[], state: ClockState): { versions: bigint[]; previous: bigint; capped: number; leadNanos: bigint } {
  const ceiling = state.arrivalNanos + state.maxLeadNanos;
  let previous = state.previous;
  let capped = 0;
  let leadNanos = 0n;
  const versions = sourceMicros.map((micros) => {
    let source = micros * NANOS_PER_MICRO;
    if (source - state.arrivalNanos > leadNanos) leadNanos = source - state.arrivalNanos;
    if (source > ceiling) {
      source = ceiling;
      capped += 1;
    }
    let version = source > state.arrivalNanos ? source : state.arrivalNanos;
    if (version <= previous) version = previous + 1n;
    previous = version;
    return version;
  });
  return { versions, previous, capped, leadNanos };
}

/** One clock per process: every tenant and route shares it, so its versions only go up. */
export function createVersionClock(options: VersionClockOptions): VersionClock {
  const now = options.now ?? Date.now;
  const maxLeadNanos = BigInt(options.maxLeadSeconds) * 1000n * NANOS_PER_MILLI;
  let previous = 0n;
  return {
    stamp(sourceMicros) {
      const arrivalNanos = BigInt(Math.floor(now())) * NANOS_PER_MILLI;
      const result = stampVersions(sourceMicros, { previous, arrivalNanos, maxLeadNanos });
      previous = result.previous;
      return { versions: result.versions, arrivalMicros: arrivalNanos / NANOS_PER_MICRO, sourceLeadMicros: result.leadNanos / NANOS_PER_MICRO, capped: result.capped };
    },
  };
}
