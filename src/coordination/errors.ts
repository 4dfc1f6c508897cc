/** The coordination wrappers' control signals live with the others in src/core/signals.ts. */
export { CircuitOpenError, RateLimitedError } from '../core/signals.js';
