import type { ErrorSource, ResolvedEngineOptions } from "./options.ts";
import type { Drainable, Registry } from "./registry.ts";
import type { EngineInit, Transport } from "./transport.ts";
import type {
  CallbackResult,
  Connection,
  ControlFrame,
  Outbound,
  Result,
  TerminateReason,
  WebSock,
} from "../websock.ts";
import { utf8Length } from "./_close.ts";
import { CLOSED, CONTROL, EventQueue, FRAME, IN, INFO, INIT, type Kind } from "./_queue.ts";
import { checkMessages, closeOf, endOf, isThenable, type Messages } from "./_results.ts";
import { showValue } from "./show_value.ts";
import { Handle } from "./_handle.ts";
import { Probe } from "./_probe.ts";
import { refuseMail } from "./_no_mailbox.ts";
import {
  ENGINE_PINGS,
  Liveness,
  NO_PINGS,
  PING,
  RUNTIME_PINGS,
  TIMEOUT,
  unwatch,
  watch,
  watched,
} from "./_liveness.ts";
import { slowPeer, textBytes } from "./_slow_peer.ts";
import { withCode } from "./errors.ts";

function connectionLost(): TerminateReason {
  const error = new Error("Connection lost: it ended without a close frame (1006)");
  return { type: "error", error: withCode(error, "CONNECTION_LOST") };
}

const SOURCES: readonly ErrorSource[] = ["init", "handleIn", "handleControl", "handleInfo"];

// Phases of a connection.
const CONNECTING = 0; // made, `open` not yet called
const OPEN = 1; // callbacks run
const STOPPING = 2; // the end is decided; `terminate` waits for an in-flight callback
const DONE = 3; // `terminate` was called (or never will be)

/**
 * One connection's engine: drives a {@linkcode WebSock} handler from socket events and
 * mailbox messages, one at a time and in order, and turns its results into frames and close
 * codes on a {@linkcode Transport}.
 *
 * Synchronous callbacks run without a promise; an async callback is awaited before the next
 * event is delivered.
 *
 * @typeParam S The handler's state.
 * @typeParam M The mailbox messages.
 * @typeParam A The argument `init` receives.
 *
 * @example Over an in-memory transport
 * ```ts
 * import assert from "node:assert/strict";
 * import { Engine, resolveEngineOptions, type Transport } from "@websock/websock/engine";
 * import { ok, push, stop, type WebSock } from "@websock/websock";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => data === "bye" ? stop("normal", state) : push(data, state),
 * } satisfies WebSock<null>;
 *
 * const sent: unknown[] = [];
 * const transport: Transport = {
 *   sendText: (data) => sent.push(data),
 *   sendBinary: (data) => sent.push(data),
 *   close: (code, reason) => sent.push({ code, reason }),
 *   bufferedAmount: () => 0,
 * };
 * const info = { url: "ws://x/", headers: new Headers(), remoteAddr: null, protocol: "" };
 * const engine = new Engine(Echo, transport, {
 *   arg: undefined,
 *   info,
 *   options: resolveEngineOptions({ timeout: 0 }),
 * });
 * engine.open();
 * engine.receive("hi");
 * engine.receive("bye");
 * assert.deepEqual(sent, ["hi", { code: 1000, reason: "" }]);
 * ```
 */
export class Engine<S, M = never, A = undefined> implements Drainable {
  readonly #handler: WebSock<S, M, A>;
  readonly #transport: Transport;
  readonly #options: ResolvedEngineOptions;
  readonly #onDone: (() => void) | undefined;
  readonly #registry: Registry | undefined;
  readonly #handle: Handle<M>;
  readonly #probe: Probe<M> | undefined;
  #arg: A | undefined;
  #state: S | undefined = undefined;
  #initialized = false;
  #phase = CONNECTING;
  #busy = false;
  #scheduled = false;
  readonly #queue = new EventQueue();
  #end: TerminateReason | undefined = undefined;
  #socketClosed = false;
  #failure: TerminateReason | undefined = undefined;
  #live: Liveness | undefined = undefined;
  #unchecked = 0;
  #reported = false;
  #closeListeners: Set<() => void> | undefined = undefined;

  /**
   * Make the engine of one connection. Nothing runs until {@linkcode Engine.open}.
   *
   * @param handler The behaviour to drive.
   * @param transport The socket to send on.
   * @param init The init argument, connection info, options and done hook.
   */
  constructor(handler: WebSock<S, M, A>, transport: Transport, init: EngineInit<A>) {
    this.#probe = Probe.of(init.options, transport, this as Engine<unknown, M, unknown>);
    this.#handler = this.#probe?.timed(handler) ?? handler;
    this.#transport = this.#probe ?? transport;
    this.#options = init.options;
    this.#onDone = init.onDone;
    this.#registry = init.registry;
    this.#arg = init.arg;
    this.#handle = new Handle(this.#probe ?? this as Engine<unknown, M, unknown>, init.info);
    init.registry?.add(this as Engine<unknown, unknown, unknown>);
  }

  /** The connection's handle, as `init` receives it: info and mailbox. */
  get connection(): Connection<M> {
    return this.#handle;
  }

  /** Whether the mailbox still takes messages (the connection is neither closing nor closed). */
  get accepting(): boolean {
    return this.#phase <= OPEN && !this.#socketClosed;
  }

  /** The handler's current state (`undefined` before `init` returned). */
  get state(): S | undefined {
    return this.#state;
  }

  /** Whether nothing is running or waiting: no callback in flight, no event queued. */
  get idle(): boolean {
    return !this.#busy && !this.#scheduled && this.#queue.empty;
  }

  /** Whether the connection is over: `terminate` was called, or never will be. */
  get done(): boolean {
    return this.#phase === DONE;
  }

  /** The socket is open: run `init`, then whatever was queued meanwhile. */
  open(): void {
    if (this.#phase !== CONNECTING) return;
    this.#phase = OPEN;
    this.#probe?.start(this.#handle as Connection<unknown>);
    if (watched(this.#options, this.#keepAlive())) {
      this.#live = new Liveness(this.#options.clock.now());
      watch(this.#options, this as Engine<unknown, unknown, unknown>, Engine.#sweep);
    }
    this.#run(INIT, undefined);
  }

  /**
   * A complete data message arrived: a `string` for text, a `Uint8Array` for binary.
   *
   * @param data The message.
   */
  receive(data: string | Uint8Array): void {
    if (this.#phase !== OPEN || this.#socketClosed) return;
    this.#probe?.in(data);
    const max = this.#options.maxMessageBytes;
    const size = typeof data === "string"
      ? (data.length * 3 > max ? utf8Length(data) : 0)
      : data.byteLength;
    if (size > max) {
      this.#stop(1009, "Message too big", {
        type: "error",
        error: withCode(
          new RangeError(
            `Cannot receive message: ${size} bytes is more than maxMessageBytes ${max}`,
          ),
          "MESSAGE_TOO_BIG",
        ),
      });
      return;
    }
    const live = this.#live;
    if (live !== undefined) live.heard = live.data = true;
    if (this.#busy || !this.#queue.empty) this.#enqueue(IN, data);
    else this.#run(IN, data);
  }

  /**
   * A ping or pong arrived (the adapter has already answered a ping).
   *
   * @param type Which control frame it was.
   * @param data Its payload.
   */
  control(type: "ping" | "pong", data: Uint8Array): void {
    if (this.#phase !== OPEN || this.#socketClosed) return;
    this.#probe?.control(type, data);
    this.#live?.heardAt(this.#options.clock.now());
    if (!this.#handler.handleControl) return;
    const frame: ControlFrame = { type, data };
    if (this.#busy || !this.#queue.empty) this.#enqueue(CONTROL, frame);
    else this.#run(CONTROL, frame);
  }

  /**
   * Queue a message for `handleInfo` (the mailbox). It is delivered after the events already
   * queued, never synchronously inside this call.
   *
   * @param message The message.
   * @returns `false` when the message was dropped: the connection is closing or closed, its
   *   queue is full (which closes it with 1013), or the handler has no `handleInfo`.
   */
  send(message: M): boolean {
    if (this.#phase > OPEN || this.#socketClosed) return false;
    if (!this.#handler.handleInfo) return refuseMail(this, (e) => this.#report(e, "handleInfo"));
    if (!this.#enqueue(INFO, message)) return false;
    if (!this.#busy && !this.#scheduled && this.#phase === OPEN) {
      this.#scheduled = true;
      const ready = Engine.#ready;
      ready.push(this as Engine<unknown, unknown, unknown>);
      if (ready.length === 1) queueMicrotask(Engine.#drainReady);
    }
    return true;
  }

  /**
   * Send a frame without `handleInfo` (the fastlane): now when idle (open, not busy, no mail
   * scheduled: the queue is empty), else after the queued events, never before their pushes.
   * @param data A `string` (text frame) or a `Uint8Array` (binary frame).
   * @returns `false` when dropped: closing or closed, queue full (1013), peer not reading (1008).
   */
  sendFrame(data: string | Uint8Array): boolean {
    if (this.#phase > OPEN || this.#socketClosed) return false;
    if (this.#phase === OPEN && !this.#busy && !this.#scheduled) this.#sendAll(data);
    else return this.#enqueue(FRAME, data);
    return this.#phase === OPEN;
  }

  /**
   * A frame the server sent to this connection without the engine (a native publish of the
   * adapter's server): telemetry counts it as sent.
   *
   * @param data The frame.
   */
  countSent(data: string | Uint8Array): void {
    this.#probe?.sentNatively(data);
  }

  // Engines with mail and nothing running: one microtask drains them all (not one each).
  static #ready: Engine<unknown, unknown, unknown>[] = [];

  static #drainReady(): void {
    const ready = Engine.#ready;
    Engine.#ready = [];
    for (let i = 0; i < ready.length; i++) {
      const engine = ready[i];
      engine.#scheduled = false;
      try {
        if (!engine.#busy && engine.#phase === OPEN) engine.#next();
      } catch (error) {
        // #run catches callback errors; this only guards the loop for the other engines.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /**
   * Call `listener` once when the mailbox stops accepting (the connection starts closing).
   *
   * @param listener Called without arguments; a throw is reported to the error hook.
   * @returns A function that removes the listener.
   */
  onClose(listener: () => void): () => void {
    if (!this.accepting) {
      queueMicrotask(() => this.#callListener(listener));
      return () => {};
    }
    const listeners = this.#closeListeners ??= new Set();
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }

  // The mailbox stopped accepting: tell the close listeners, once.
  #closing(): void {
    const listeners = this.#closeListeners;
    if (listeners === undefined) return;
    this.#closeListeners = undefined;
    for (const listener of listeners) this.#callListener(listener);
  }

  #callListener(listener: () => void): void {
    try {
      listener();
    } catch (error) {
      this.#report(error, "transport");
    }
  }

  /**
   * The transport failed; the close that follows ends the connection with this error.
   *
   * @param error The cause.
   * @param timeout Whether the failure was the runtime's own ping timeout.
   */
  error(error: unknown, timeout = false): void {
    this.#failure ??= timeout ? { type: "timeout" } : { type: "error", error };
  }

  /**
   * The socket closed. Events received before the close are still delivered; then
   * `terminate` runs with the peer's code and reason (or the transport error).
   *
   * @param code The close code the peer sent (1005 when none, 1006 when abnormal).
   * @param reason The close reason the peer sent.
   */
  closed(code: number, reason: string): void {
    this.#probe?.closed(code, reason);
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    this.#clearTimer();
    this.#closing();
    if (this.#phase === CONNECTING) {
      this.#phase = DONE;
      this.#done();
      return;
    }
    if (this.#phase !== OPEN) return;
    // No close frame (1006: a dropped connection) is an error on every adapter, not a remote
    // close: the peer did not close, its connection was lost.
    const end = this.#failure ??
      (code === 1006 ? connectionLost() : { type: "remote", code, reason });
    if (this.#busy || !this.#queue.empty) this.#queue.push(CLOSED, end);
    else {
      this.#phase = STOPPING;
      this.#end = end;
      this.#finish();
    }
  }

  /**
   * Close the connection because the server is going away: 1001 (or 1012 for a restart),
   * and `terminate` sees `shutdown`.
   *
   * @param restart Whether the server is restarting rather than stopping.
   */
  shutdown(restart = false): void {
    const code = restart ? 1012 : 1001;
    if (this.#phase === CONNECTING) {
      this.#phase = DONE;
      this.#closing();
      this.#closeSocket(code, "");
      this.#done();
      return;
    }
    this.#stop(code, restart ? "Server restarting" : "Server shutting down", {
      type: "shutdown",
      code,
    });
  }

  #enqueue(kind: Kind, payload: unknown): boolean {
    if (this.#queue.size >= this.#options.maxQueuedEvents) {
      const max = this.#options.maxQueuedEvents;
      this.#stop(1013, "Too many queued events", {
        type: "error",
        error: withCode(
          new RangeError(`Cannot queue event: ${max} events already wait (maxQueuedEvents)`),
          "QUEUE_FULL",
        ),
      });
      return false;
    }
    this.#queue.push(kind, payload);
    return true;
  }

  // Run one event, then every queued one, until the queue is empty or a callback is async.
  #run(kind: Kind, payload: unknown): void {
    this.#busy = true;
    for (;;) {
      if (kind === CLOSED) {
        this.#phase = STOPPING;
        this.#end = payload as TerminateReason;
        this.#settle();
        return;
      }
      try {
        const result = this.#call(kind, payload);
        if (isThenable(result)) {
          // Promise.resolve: a hand-made thenable that settles twice must not resume twice.
          Promise.resolve(result).then(
            (value) => this.#resume(value, kind),
            (error) => this.#resumeFailed(error, kind),
          );
          return;
        }
        this.#apply(result, kind);
      } catch (error) {
        this.#crash(error, kind);
      }
      if (this.#phase !== OPEN) {
        this.#settle();
        return;
      }
      const queue = this.#queue;
      if (queue.empty) {
        this.#busy = false;
        queue.rewind();
        return;
      }
      kind = queue.nextKind();
      payload = queue.take();
    }
  }

  #next(): void {
    const queue = this.#queue;
    if (!queue.empty) return this.#run(queue.nextKind(), queue.take());
    this.#busy = false;
    queue.rewind();
  }

  #call(kind: Kind, payload: unknown): CallbackResult<S> {
    const handler = this.#handler;
    switch (kind) {
      case IN:
        return handler.handleIn(payload as string | Uint8Array, this.#state as S);
      case INFO:
        return handler.handleInfo!(payload as M, this.#state as S);
      case CONTROL:
        return handler.handleControl!(payload as ControlFrame, this.#state as S);
      case FRAME: // not a callback: a queued frame goes out in its turn
        this.#sendAll(payload as Messages);
        return { kind: "ok", state: this.#state as S };
      default: {
        const arg = this.#arg as A;
        this.#arg = undefined;
        return handler.init(arg, this.#handle);
      }
    }
  }

  #resume(result: unknown, kind: Kind): void {
    if (this.#phase === OPEN) {
      try {
        this.#apply(result, kind);
      } catch (error) {
        this.#crash(error, kind);
      }
    } else if (
      result !== null && typeof result === "object" &&
      "state" in result && "kind" in result
    ) {
      // The end was decided while this callback ran: keep its state, send nothing.
      this.#state = (result as Result<S>).state;
      if (kind === INIT) this.#initialized = true;
    }
    if (this.#phase !== OPEN) this.#settle();
    else this.#next();
  }

  #resumeFailed(error: unknown, kind: Kind): void {
    if (this.#phase === OPEN) this.#crash(error, kind);
    else this.#report(error, SOURCES[kind]);
    this.#settle();
  }

  #apply(result: unknown, kind: Kind): void {
    const r = result as Result<S>;
    switch (r?.kind) {
      case "ok":
        break;
      case "push":
        checkMessages(r.messages, this.#transport);
        break;
      case "stop": {
        const [code, reason] = closeOf(r);
        if (r.messages !== undefined) checkMessages(r.messages, this.#transport);
        this.#state = r.state;
        if (kind === INIT) this.#initialized = true;
        if (r.messages !== undefined) this.#sendAll(r.messages);
        this.#stop(code, reason, endOf(r, code, reason));
        return;
      }
      default:
        throw withCode(
          new TypeError(
            `Invalid result from ${SOURCES[kind]}: expected ok(), push() or stop(), got ${
              showValue(result)
            }`,
          ),
          "INVALID_RESULT",
        );
    }
    this.#state = r.state;
    if (kind === INIT) this.#initialized = true;
    if (r.kind === "push") this.#sendAll(r.messages);
  }

  #sendAll(messages: Messages): void {
    if (this.#socketClosed) return;
    if (!Array.isArray(messages)) return this.#sendOne(messages as Outbound);
    for (let i = 0; i < messages.length && !this.#socketClosed; i++) this.#sendOne(messages[i]);
  }

  #sendOne(message: Outbound): void {
    if (this.#unchecked >= this.#options.checkBufferedEvery && this.#slowPeer()) return;
    const t = this.#transport;
    if (typeof message === "string") {
      t.sendText(message);
      this.#unchecked += textBytes(message);
    } else if (message instanceof Uint8Array) {
      t.sendBinary(message);
      this.#unchecked += message.byteLength;
    } else {
      switch (message.type) {
        case "text":
          t.sendText(message.data);
          this.#unchecked += textBytes(message.data);
          break;
        case "binary":
          t.sendBinary(message.data);
          this.#unchecked += message.data.byteLength;
          break;
        case "ping":
          t.sendPing!(message.data);
          break;
        case "pong":
          t.sendPong!(message.data);
          break;
      }
    }
  }

  // The slow-peer rule (_slow_peer.ts): looked at before a message, once enough was queued.
  #slowPeer(): boolean {
    const buffered = this.#transport.bufferedAmount();
    const error = slowPeer(buffered, this.#unchecked, this.#options);
    this.#unchecked = 0;
    if (error === undefined) return false;
    this.#probe?.slow(buffered);
    this.#stop(1008, "Peer is not reading", { type: "error", error });
    return true;
  }

  #crash(error: unknown, kind: Kind): void {
    this.#report(error, SOURCES[kind] ?? "transport");
    this.#stop(1011, "Internal error", { type: "error", error });
  }

  #report(error: unknown, source: ErrorSource): void {
    try {
      this.#options.onError(error, { source, connection: this.#handle as Connection<unknown> });
    } catch {
      // An error hook that throws must not take the connection or the server down.
    }
  }

  // Decide the end: close the socket now, run `terminate` once no callback is in flight.
  #stop(code: number, reason: string, end: TerminateReason): void {
    if (this.#phase !== OPEN) return;
    this.#phase = STOPPING;
    this.#end = end;
    this.#closing();
    this.#queue.clear();
    this.#clearTimer();
    this.#closeSocket(code, reason);
    if (!this.#busy) this.#finish();
  }

  #closeSocket(code: number, reason: string): void {
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    this.#callListener(() => this.#transport.close(code, reason));
  }

  #settle(): void {
    this.#busy = false;
    if (this.#phase === STOPPING) this.#finish();
  }

  #finish(): void {
    this.#phase = DONE;
    this.#queue.clear();
    this.#clearTimer();
    const end = this.#end!;
    if (this.#initialized) {
      try {
        const done = this.#handler.terminate?.(end, this.#state as S);
        if (isThenable(done)) {
          done.then(() => this.#done(), (error) => {
            this.#report(error, "terminate");
            this.#done();
          });
          return;
        }
      } catch (error) {
        this.#report(error, "terminate");
      }
    }
    this.#done();
  }

  #done(): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#probe?.stop(this.#end);
    this.#registry?.delete(this as Engine<unknown, unknown, unknown>);
    this.#onDone?.();
  }

  /**
   * Give up on a connection whose callback (or async `terminate`) never settles: close it
   * with 1011 if it is still open, run `terminate` now with the last good state if it has not
   * run, and report the connection done. Results that arrive later are ignored.
   */
  abandon(): void {
    if (this.#phase === CONNECTING) return this.shutdown();
    if (this.#phase === OPEN) {
      this.#stop(1011, "Internal error", {
        type: "error",
        error: withCode(new Error("Abandoned: a callback did not settle in time"), "ABANDONED"),
      });
    }
    if (this.#phase === STOPPING) {
      this.#busy = false;
      this.#finish();
    }
    this.#done();
  }

  // Keep-alive and idle limits (see _liveness.ts): a shared sweeper looks at each connection
  // every quarter of the limit; a receipt costs a flag, a connection no timer of its own.
  #keepAlive(): number {
    const t = this.#transport;
    return t.runtimeKeepAlive ? RUNTIME_PINGS : t.sendPing ? ENGINE_PINGS : NO_PINGS;
  }

  static #sweep(engine: Engine<unknown, unknown, unknown>, now: number): void {
    const action = engine.#live?.look(now, engine.#options, engine.#keepAlive());
    if (action === PING) engine.#callListener(() => engine.#transport.sendPing!(new Uint8Array(0)));
    else if (action === TIMEOUT) engine.#stop(1001, "Idle timeout", { type: "timeout" });
  }

  #clearTimer(): void {
    if (this.#live === undefined) return;
    this.#live = undefined;
    unwatch(this.#options, this);
  }
}
