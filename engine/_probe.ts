// One connection's telemetry, made by the engine only when its options have a `telemetry`
// (so that a server without one pays a `=== undefined` check per message and nothing else).
// It stands in front of the adapter's transport (counting what goes out and the close sent)
// and in front of the engine's mailbox (seeing drops); the engine tells it what comes in, the
// open, a peer it closes as too slow, the close received and the end.

import type { Connection, TerminateReason, WebSock } from "../websock.ts";
import { isThenable } from "./_results.ts";
import type { Mailbox } from "./_handle.ts";
import type { ResolvedEngineOptions } from "./options.ts";
import type {
  CallbackName,
  CloseFrame,
  ConnectionStats,
  ConnectionStopEvent,
  Telemetry,
  Traffic,
} from "./telemetry.ts";
import type { Transport } from "./transport.ts";

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
      this.textBytes += utf8Bytes(data);
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

const encoder = new TextEncoder();
const scratch = new Uint8Array(3 * 4096);

/**
 * The UTF-8 length of a string: a loop for short strings, the native encoder in chunks of 4096
 * UTF-16 units (never splitting a surrogate pair) for long ones, where it is ~40× faster.
 */
export function utf8Bytes(text: string): number {
  const length = text.length;
  if (length <= 64) {
    let bytes = length;
    for (let i = 0; i < length; i++) {
      const unit = text.charCodeAt(i);
      if (unit < 0x80) continue;
      if (unit < 0x800) bytes += 1;
      else if (
        unit >= 0xd800 && unit <= 0xdbff && i + 1 < length &&
        (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
      ) {
        bytes += 2; // 4 bytes for 2 units
        i++;
      } else bytes += 2;
    }
    return bytes;
  }
  let bytes = 0;
  for (let start = 0; start < length;) {
    let end = Math.min(start + 4096, length);
    const last = text.charCodeAt(end - 1);
    if (end < length && last >= 0xd800 && last <= 0xdbff) end--;
    bytes += encoder.encodeInto(text.slice(start, end), scratch).written;
    start = end;
  }
  return bytes;
}

const timedHandlers = new WeakMap<object, WeakMap<Telemetry, object>>();

// A handler that times each of `handler`'s callbacks for `telemetry.onCallbackDuration`.
function timedHandler<S, M, A>(handler: WebSock<S, M, A>, telemetry: Telemetry): WebSock<S, M, A> {
  const record = (name: CallbackName, start: number): void => {
    try {
      telemetry.onCallbackDuration!(name, performance.now() - start);
    } catch {
      // Telemetry must not change what happens.
    }
  };
  // deno-lint-ignore no-explicit-any
  const run = <R>(name: CallbackName, fn: (a: any, b: any) => R, a: unknown, b: unknown): R => {
    const start = performance.now();
    let result: R;
    try {
      result = fn.call(handler, a, b);
    } catch (error) {
      record(name, start);
      throw error;
    }
    if (!isThenable(result)) {
      record(name, start);
      return result;
    }
    return Promise.resolve(result).finally(() => record(name, start)) as R;
  };
  const { handleInfo, handleControl, terminate } = handler;
  return {
    init: (arg, connection) => run("init", handler.init, arg, connection),
    handleIn: (data, state) => run("handleIn", handler.handleIn, data, state),
    handleInfo: handleInfo && ((message, state) => run("handleInfo", handleInfo, message, state)),
    handleControl: handleControl &&
      ((frame, state) => run("handleControl", handleControl, frame, state)),
    terminate: terminate && ((reason, state) => run("terminate", terminate, reason, state)),
  };
}

/** A connection's probe: a transport, a mailbox, and the counters of its telemetry. */
export class Probe<M> implements Transport, Mailbox<M> {
  readonly #received = new Counts();
  readonly #sent = new Counts();
  readonly #stats: ConnectionStats = Object.freeze({ received: this.#received, sent: this.#sent });
  readonly sendPing: ((data: Uint8Array) => void) | undefined;
  readonly sendPong: ((data: Uint8Array) => void) | undefined;
  readonly runtimeKeepAlive: boolean | undefined;
  readonly #telemetry: Telemetry;
  readonly #options: ResolvedEngineOptions;
  readonly #transport: Transport;
  readonly #mailbox: Mailbox<M>;
  #connection: Connection<unknown> | undefined;
  #started = 0;
  #closeSent: CloseFrame | null = null;
  #closeReceived: CloseFrame | null = null;
  #stopped = false;

  /**
   * The probe of a new connection, or `undefined` when nobody listens.
   *
   * @param options The engine's options (telemetry, clock, limits).
   * @param transport The adapter's transport.
   * @param mailbox The engine.
   */
  static of<M>(
    options: ResolvedEngineOptions,
    transport: Transport,
    mailbox: Mailbox<M>,
  ): Probe<M> | undefined {
    return options.telemetry && new Probe(options, options.telemetry, transport, mailbox);
  }

  private constructor(
    options: ResolvedEngineOptions,
    telemetry: Telemetry,
    transport: Transport,
    mailbox: Mailbox<M>,
  ) {
    this.#options = options;
    this.#telemetry = telemetry;
    this.#transport = transport;
    this.#mailbox = mailbox;
    this.runtimeKeepAlive = transport.runtimeKeepAlive;
    // Keep the transport's lack of ping/pong visible: pushing one must still fail clearly.
    this.sendPing = typeof transport.sendPing === "function"
      ? (data) => {
        this.#sent.control("ping", data);
        transport.sendPing!(data);
      }
      : undefined;
    this.sendPong = typeof transport.sendPong === "function"
      ? (data) => {
        this.#sent.control("pong", data);
        transport.sendPong!(data);
      }
      : undefined;
  }

  /**
   * The handler itself, or (when telemetry has `onCallbackDuration`) a handler that times each
   * callback: until it returned or threw, or for a promise until it settled (then the engine
   * awaits a promise of ours, which settles the same way one tick later).
   */
  timed<S, A>(handler: WebSock<S, M, A>): WebSock<S, M, A> {
    const telemetry = this.#telemetry;
    if (telemetry.onCallbackDuration === undefined) return handler;
    // One timed handler per handler and telemetry, shared by their connections.
    let byTelemetry = timedHandlers.get(handler);
    if (byTelemetry === undefined) timedHandlers.set(handler, byTelemetry = new WeakMap());
    let timed = byTelemetry.get(telemetry) as WebSock<S, M, A> | undefined;
    if (timed === undefined) byTelemetry.set(telemetry, timed = timedHandler(handler, telemetry));
    return timed;
  }
  /** A frame the adapter's server sent natively (not through the transport). */
  sentNatively(data: string | Uint8Array): void {
    this.#sent.data(data);
  }

  /** The connection opened. */
  start(connection: Connection<unknown>): void {
    this.#connection = connection;
    this.#started = this.#options.clock.now();
    const { url, protocol, remoteAddr } = connection;
    this.#tell("onConnectionStart", { connection, url, protocol, remoteAddr, stats: this.#stats });
  }

  /** A data message arrived while the connection was open. */
  in(data: string | Uint8Array): void {
    this.#received.data(data);
  }

  /** A ping or pong arrived while the connection was open. */
  control(type: "ping" | "pong", data: Uint8Array): void {
    this.#received.control(type, data);
  }

  /** The socket closed with the peer's code and reason: kept when the peer closed first. */
  closed(code: number, reason: string): void {
    if (this.#closeSent === null && !this.#stopped) this.#closeReceived ??= { code, reason };
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

  sendText(data: string): void {
    this.#sent.data(data);
    this.#transport.sendText(data);
  }

  sendBinary(data: Uint8Array): void {
    this.#sent.data(data);
    this.#transport.sendBinary(data);
  }

  close(code: number, reason: string): void {
    this.#closeSent ??= { code, reason };
    this.#transport.close(code, reason);
  }

  bufferedAmount(): number {
    return this.#transport.bufferedAmount();
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

  send(message: M): boolean {
    const mailbox = this.#mailbox;
    const accepting = mailbox.accepting;
    if (mailbox.send(message)) return true;
    // A full queue closes the connection (1013); a handler without handleInfo leaves it open.
    const reason = !accepting ? "closed" : mailbox.accepting ? "unhandled" : "full";
    if (this.#connection !== undefined) {
      this.#tell("onMailboxDrop", { connection: this.#connection, reason });
    }
    return false;
  }

  // A fastlane frame is not mail: no drop is told (the frame, once sent, counts in `sent`).
  sendFrame(data: string | Uint8Array): boolean {
    return this.#mailbox.sendFrame(data);
  }

  get accepting(): boolean {
    return this.#mailbox.accepting;
  }

  onClose(listener: () => void): () => void {
    return this.#mailbox.onClose(listener);
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
