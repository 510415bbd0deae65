// The server side of the heartbeat: one sweeper per app looks at every socket a quarter of
// the timeout apart and tells those that sent no heartbeat for the whole timeout, through
// their mailbox. No timer per socket; no timer at all while the app has no socket.

import type { Clock } from "../engine/options.ts";

/** A socket whose heartbeats are watched. */
export interface Beating {
  /** When its last heartbeat (or its start) was seen. */
  lastHeartbeat: number;
  /** Tell it that its heartbeats stopped. */
  expire(): void;
}

export class Heartbeats {
  readonly #clock: Clock;
  readonly #timeout: number;
  readonly #sockets = new Set<Beating>();
  #timer: unknown = undefined;

  constructor(clock: Clock, timeout: number) {
    this.#clock = clock;
    this.#timeout = timeout;
  }

  get now(): number {
    return this.#clock.now();
  }

  add(socket: Beating): void {
    if (this.#timeout === 0) return;
    this.#sockets.add(socket);
    if (this.#timer === undefined) this.#schedule();
  }

  delete(socket: Beating): void {
    if (!this.#sockets.delete(socket) || this.#sockets.size > 0) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Whether a socket's heartbeats stopped. */
  expired(socket: Beating): boolean {
    return this.#timeout > 0 && this.#clock.now() - socket.lastHeartbeat >= this.#timeout;
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => this.#sweep(), Math.max(1, this.#timeout / 4));
  }

  #sweep(): void {
    this.#timer = undefined;
    for (const socket of this.#sockets) if (this.expired(socket)) socket.expire();
    if (this.#sockets.size > 0 && this.#timer === undefined) this.#schedule();
  }
}
