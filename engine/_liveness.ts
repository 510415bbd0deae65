// Keep-alive and the idle limits, decided per connection at each look of a shared sweeper.
//
// `timeout` is liveness: a peer that sent nothing (no data, no ping, no pong) for about half
// of it is pinged, and it is closed once nothing came for `timeout`. A pong is all a live
// peer owes: a browser tab that only reads stays. `dataTimeout` (off by default) is the
// application's limit on data: it closes a peer that sent no data message for that long,
// pongs or not. Sends never count: a dead peer is still dead while the server writes to it.

import type { Clock, ResolvedEngineOptions } from "./options.ts";
import { Sweeper } from "./_sweeper.ts";

/** What a look decides. */
export const KEEP = 0;
/** Ask the peer for a sign of life. */
export const PING = 1;
/** Close: 1001, `terminate` sees `timeout`. */
export const TIMEOUT = 2;

/** Who keeps a connection alive, by what its transport can do. */
export const ENGINE_PINGS = 0; // the engine pings through the transport's sendPing
export const RUNTIME_PINGS = 1; // the runtime pings and closes dead peers itself (Deno)
export const NO_PINGS = 2; // nobody can ping: silence alone decides

/** One connection's marks. The engine sets `heard`/`data` on receipt (a flag, no clock read). */
export class Liveness {
  /** A frame (data, ping or pong) arrived since the last look. */
  heard = false;
  /** A data message arrived since the last look. */
  data = false;
  #lastHeard: number;
  #lastData: number;
  #pinged = false;

  constructor(now: number) {
    this.#lastHeard = this.#lastData = now;
  }

  /**
   * A control frame (a pong, most often) arrived at `now`. Control frames are rare, so they
   * get an exact time: a peer that answers each ping at once is pinged every half `timeout`.
   */
  heardAt(now: number): void {
    this.#lastHeard = Math.max(this.#lastHeard, now);
    this.#pinged = false;
  }

  /**
   * Decide at a look. A receipt counts as made at the look that notices it, so a connection
   * closes between `timeout` and 1.25 × `timeout` after the last sign of life, never before.
   * The ping goes at the first look after 3/8 of `timeout` of silence (half, in steady state,
   * with looks every quarter), which leaves the peer at least 3/8 of `timeout` to answer.
   */
  look(now: number, options: ResolvedEngineOptions, mode: number): number {
    if (this.heard) {
      this.heard = false;
      this.#lastHeard = now;
      this.#pinged = false;
    }
    if (this.data) {
      this.data = false;
      this.#lastData = now;
    }
    const { timeout, dataTimeout } = options;
    if (dataTimeout > 0 && now - this.#lastData >= dataTimeout) return TIMEOUT;
    if (timeout === 0 || mode === RUNTIME_PINGS) return KEEP;
    const silent = now - this.#lastHeard;
    if (silent >= timeout) return TIMEOUT;
    if (mode === ENGINE_PINGS && !this.#pinged && silent * 8 >= timeout * 3) {
      this.#pinged = true;
      return PING;
    }
    return KEEP;
  }
}

/** Whether connections of these options need looking at, given who keeps them alive. */
export function watched(options: ResolvedEngineOptions, mode: number): boolean {
  return options.dataTimeout > 0 || (options.timeout > 0 && mode !== RUNTIME_PINGS);
}

// One sweeper per clock and period (not a timer per connection), looking every quarter of the
// shorter limit. Keyed by what the sweeper does, not by the options object: `upgrade()`
// resolves its options for each request, and its connections must still share one timer. The
// tick is the engine's for every member (each looks at its own options).
const sweepers = new Map<Clock, Map<number, Sweeper<unknown>>>();

// Milliseconds between two looks for connections of these options.
function period(options: ResolvedEngineOptions): number {
  const limits = [options.timeout, options.dataTimeout].filter((ms) => ms > 0);
  return Math.max(1, Math.floor(Math.min(...limits) / 4));
}

/** Start looking at `member` with the sweeper of `options`; `tick` is called at each look. */
export function watch<T>(
  options: ResolvedEngineOptions,
  member: T,
  tick: (member: T, now: number) => void,
): void {
  const every = period(options);
  let byPeriod = sweepers.get(options.clock);
  if (byPeriod === undefined) sweepers.set(options.clock, byPeriod = new Map());
  let sweeper = byPeriod.get(every) as Sweeper<T> | undefined;
  if (sweeper === undefined) {
    sweeper = new Sweeper(options.clock, every, tick);
    byPeriod.set(every, sweeper as Sweeper<unknown>);
  }
  sweeper.add(member);
}

/** Stop looking at `member`; the sweeper goes once it has none left. */
export function unwatch(options: ResolvedEngineOptions, member: unknown): void {
  const byPeriod = sweepers.get(options.clock);
  const every = period(options);
  if (!byPeriod?.get(every)?.delete(member)) return;
  byPeriod.delete(every);
  if (byPeriod.size === 0) sweepers.delete(options.clock);
}
