// One connection's telemetry: the engine tells it what happens (as events: received, sent,
// the close frames, a mail drop and why, a slow peer, a callback's duration, the end), and it
// counts and tells the `telemetry` option's hooks. Made only when the options have a
// `telemetry`, so a server without one pays a `=== undefined` check per event and nothing
// else. It decorates nothing: neither the handler, nor the transport, nor the mailbox.

import type { Connection, TerminateReason } from "../websock.ts";
import type { ResolvedEngineOptions } from "./options.ts";
import type {
  CallbackName,
  CloseFrame,
  ConnectionStats,
  ConnectionStopEvent,
  MailboxDropEvent,
  Telemetry,
  Traffic,
} from "./telemetry.ts";
import { utf8Length } from "./utf8_length.ts";

class Counts implements Traffic {
  text = 0;
  textBytes = 0;
  binary = 0;
  binaryBytes = 0;
  ping = 0;
  pingBytes = 0;
  pong = 0;
  pongBytes = 0;

  data(data: string | Uint8Array): void {
    if (typeof data === "string") {
      this.text++;
      this.textBytes += utf8Length(data);
    } else {
      this.binary++;
      this.binaryBytes += data.byteLength;
    }
  }

  control(type: "ping" | "pong", data: Uint8Array): void {
    if (type === "ping") {
      this.ping++;
      this.pingBytes += data.byteLength;
    } else {
      this.pong++;
      this.pongBytes += data.byteLength;
    }
  }
}

/** A connection's telemetry: its counters, and the hooks it tells. */
export class Probe {
  readonly #received = new Counts();
  readonly #sent = new Counts();
  readonly #stats: ConnectionStats = Object.freeze({ received: this.#received, sent: this.#sent });
  readonly #telemetry: Telemetry;
  readonly #options: ResolvedEngineOptions;
  /** Whether the engine should time its callbacks (`onCallbackDuration`). */
  readonly timesCallbacks: boolean;
  #connection: Connection<unknown> | undefined;
  #started = 0;
  #callStart = 0; // callbacks never overlap: one clock is enough
  #closeSent: CloseFrame | null = null;
  #closeReceived: CloseFrame | null = null;
  #stopped = false;

  /**
   * The probe of a new connection, or `undefined` when nobody listens.
   *
   * @param options The engine's options (telemetry, clock, limits).
   */
  static of(options: ResolvedEngineOptions): Probe | undefined {
    return options.telemetry && new Probe(options, options.telemetry);
  }

  private constructor(options: ResolvedEngineOptions, telemetry: Telemetry) {
    this.#options = options;
    this.#telemetry = telemetry;
    this.timesCallbacks = typeof telemetry.onCallbackDuration === "function";
  }

  /** The connection opened. */
  start(connection: Connection<unknown>): void {
    this.#connection = connection;
    this.#started = this.#options.clock.now();
    const { url, protocol, remoteAddr } = connection;
    this.#tell("onConnectionStart", { connection, url, protocol, remoteAddr, stats: this.#stats });
  }

  /** A data message arrived while the connection was open. */
  received(data: string | Uint8Array): void {
    this.#received.data(data);
  }

  /** A ping or pong arrived while the connection was open. */
  receivedControl(type: "ping" | "pong", data: Uint8Array): void {
    this.#received.control(type, data);
  }

  /** A data frame went out (through the transport, or the adapter's native publish). */
  sent(data: string | Uint8Array): void {
    this.#sent.data(data);
  }

  /** A ping or pong went out. */
  sentControl(type: "ping" | "pong", data: Uint8Array): void {
    this.#sent.control(type, data);
  }

  /** The server sent its close frame. */
  closeSent(code: number, reason: string): void {
    this.#closeSent ??= { code, reason };
  }

  /** The socket closed with the peer's code and reason: kept when the peer closed first. */
  closeReceived(code: number, reason: string): void {
    if (this.#closeSent === null && !this.#stopped) this.#closeReceived ??= { code, reason };
  }

  /** The mailbox dropped a message, and why. */
  mailDropped(reason: MailboxDropEvent["reason"]): void {
    if (this.#connection === undefined) return;
    this.#tell("onMailboxDrop", { connection: this.#connection, reason });
  }

  /**
   * The engine closes the peer with 1008 for not reading (its rule: engine/_slow_peer.ts).
   *
   * @param buffered The bytes waiting for the peer at that look.
   */
  slow(buffered: number): void {
    if (this.#connection === undefined || this.#stopped) return;
    const limit = this.#options.maxBufferedBytes;
    this.#tell("onSlowPeer", { connection: this.#connection, buffered, limit });
  }

  /** A callback starts: its clock starts, when callbacks are timed. */
  callStarted(): void {
    if (this.timesCallbacks) this.#callStart = performance.now();
  }

  /** The callback started last returned (or its promise settled): tell how long it took. */
  callEnded(name: CallbackName): void {
    if (this.timesCallbacks) this.took(name, this.#callStart);
  }

  /** A callback timed on its own clock (`terminate`) took since `start` (`performance.now()`). */
  took(name: CallbackName, start: number): void {
    try {
      this.#telemetry.onCallbackDuration!(name, performance.now() - start);
    } catch {
      // Telemetry must not change what happens.
    }
  }

  /** The connection is over: tell the stop (when it had started). */
  stop(reason: TerminateReason | undefined): void {
    const connection = this.#connection;
    if (connection === undefined || reason === undefined || this.#stopped) return;
    this.#stopped = true;
    const event: ConnectionStopEvent = {
      connection,
      duration: this.#options.clock.now() - this.#started,
      stats: this.#stats,
      closeSent: this.#closeSent,
      closeReceived: this.#closeReceived,
      reason,
    };
    this.#tell("onConnectionStop", event);
  }

  #tell<K extends "onConnectionStart" | "onConnectionStop" | "onSlowPeer" | "onMailboxDrop">(
    hook: K,
    event: Parameters<NonNullable<Telemetry[K]>>[0],
  ): void {
    const telemetry = this.#telemetry;
    try {
      (telemetry[hook] as ((event: unknown) => void) | undefined)?.call(telemetry, event);
    } catch {
      // Telemetry must not change what happens.
    }
  }
}
