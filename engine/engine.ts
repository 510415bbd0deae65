import type { ErrorSource, ResolvedEngineOptions } from "./options.ts";
import type { Drainable, Registry } from "./registry.ts";
import type { EngineInit, Transport } from "./transport.ts";
import type {
  CallbackResult,
  Connection,
  ControlFrame,
  Outbound,
  TerminateReason,
  WebSock,
} from "../websock.ts";
import { CloseCode } from "../close.ts";
import { CLOSED, CONTROL, EventQueue, FRAME, IN, INFO, INIT, type Kind } from "./_queue.ts";
import { decide, isResult, type Messages } from "./_decide.ts";
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
import { messageTooBig } from "./_peer_errors.ts";
import { isThenable } from "./is_thenable.ts";
import { utf8Length } from "./utf8_length.ts";

// The callback of each queued kind (by `Kind`: INIT, IN, CONTROL, INFO).
const SOURCES: readonly ("init" | "handleIn" | "handleControl" | "handleInfo")[] = [
  "init",
  "handleIn",
  "handleControl",
  "handleInfo",
];

// The lifecycle, one field (`#phase`), in this order:
//   CONNECTING   made; `open()` not called yet
//   OPEN         callbacks run (init first)
//   STOPPING     the end is decided (`#end`); the socket is closed or closing; `terminate`
//                waits for the callback in flight, if any
//   TERMINATING  an async `terminate` runs
//   DONE         over: telemetry told, registry left (terminate ran, or never will)
// Beside it: whether the socket is closed (`#socketClosed`: either side may close first),
// and what the run loop is doing (`#run`: IDLE, RUNNING a callback, or SCHEDULED to deliver
// `#mail` in the shared microtask). `terminate` runs iff `init` returned a result (`#state`
// is no longer NO_STATE). An OPEN engine that is IDLE has nothing queued.
const CONNECTING = 0;
const OPEN = 1;
const STOPPING = 2;
const TERMINATING = 3;
const DONE = 4;

const IDLE = 0;
const RUNNING = 1;
const SCHEDULED = 2;

const NO_STATE: unique symbol = Symbol("no state");

// The queue of an engine that never had to queue (most connections, most of the time): one
// shared empty queue, replaced by a queue of its own at the first event that must wait.
const NO_EVENTS = new EventQueue();

// The engine itself as its transport (a subclass that implements Transport).
function ownTransport(engine: object): Transport {
  const candidate = engine as Partial<Transport>;
  if (typeof candidate.sendText === "function") return candidate as Transport;
  throw new TypeError("Invalid Engine: no transport, and the engine is no Transport (sendText)");
}

function connectionLost(): TerminateReason {
  const error = new Error("Connection lost: it ended without a close frame (1006)");
  return { type: "error", error: withCode(error, "CONNECTION_LOST") };
}

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
  // The fields a message touches come first (an engine is laid out in this order): a
  // broadcast to many connections reads each engine from memory, line by line.
  #phase = CONNECTING;
  #socketClosed = false;
  #run = IDLE;
  // The mailbox message of a SCHEDULED engine: the one that found it idle (a broadcast's
  // case), kept here rather than queued; later events queue behind it.
  #mail: unknown = undefined;
  readonly #handler: WebSock<S, M, A>;
  #state: S | typeof NO_STATE = NO_STATE;
  readonly #transport: Transport;
  readonly #options: ResolvedEngineOptions;
  readonly #probe: Probe | undefined;
  #unchecked = 0;
  #queue = NO_EVENTS;
  #live: Liveness | undefined = undefined;
  readonly #handle: Handle<M>;
  #arg: A | undefined;
  // The decided end (from STOPPING on); while OPEN, a transport failure the close will carry.
  #end: TerminateReason | undefined = undefined;
  #closeListeners: Set<() => void> | undefined = undefined;
  readonly #registry: Registry | undefined;
  readonly #onDone: (() => void) | undefined;

  /**
   * Make the engine of one connection. Nothing runs until {@linkcode Engine.open}.
   *
   * @param handler The behaviour to drive.
   * @param transport The socket to send on; `undefined` for a subclass that is its own
   *   transport (one object per connection, as the Deno adapter's).
   * @param init The init argument, connection info, options and done hook.
   * @throws {TypeError} When `transport` is left out and the engine is no transport.
   */
  constructor(handler: WebSock<S, M, A>, transport: Transport | undefined, init: EngineInit<A>) {
    this.#handler = handler;
    this.#transport = transport ?? ownTransport(this);
    this.#options = init.options;
    this.#probe = Probe.of(init.options);
    this.#onDone = init.onDone;
    this.#registry = init.registry;
    this.#arg = init.arg;
    this.#handle = new Handle(this as Engine<unknown, M, unknown>, init.info);
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
    const state = this.#state;
    return state === NO_STATE ? undefined : state;
  }

  /** Whether nothing is running or waiting: no callback in flight, no event queued. */
  get idle(): boolean {
    return this.#run === IDLE && this.#queue.empty;
  }

  /** Whether the connection is over: `terminate` was called, or never will be. */
  get done(): boolean {
    return this.#phase >= TERMINATING;
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
    this.#loop(INIT, undefined);
  }

  /**
   * A complete data message arrived: a `string` for text, a `Uint8Array` for binary.
   *
   * @param data The message.
   */
  receive(data: string | Uint8Array): void {
    if (this.#phase !== OPEN || this.#socketClosed) return;
    this.#probe?.received(data);
    const max = this.#options.maxMessageBytes;
    const size = typeof data === "string"
      ? (data.length * 3 > max ? utf8Length(data) : 0)
      : data.byteLength;
    if (size > max) {
      const error = messageTooBig(max, size);
      return this.#stop(CloseCode.MessageTooBig, "Message too big", { type: "error", error });
    }
    const live = this.#live;
    if (live !== undefined) live.heard = live.data = true;
    if (this.#run !== IDLE) this.#enqueue(IN, data); // OPEN and IDLE: nothing waits
    else this.#loop(IN, data);
  }

  /**
   * A ping or pong arrived (the adapter has already answered a ping).
   *
   * @param type Which control frame it was.
   * @param data Its payload.
   */
  control(type: "ping" | "pong", data: Uint8Array): void {
    if (this.#phase !== OPEN || this.#socketClosed) return;
    this.#probe?.receivedControl(type, data);
    this.#live?.heardAt(this.#options.clock.now());
    if (!this.#handler.handleControl) return;
    const frame: ControlFrame = { type, data };
    if (this.#run !== IDLE) this.#enqueue(CONTROL, frame);
    else this.#loop(CONTROL, frame);
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
    if (this.#phase > OPEN || this.#socketClosed) return this.#dropped("closed");
    if (!this.#handler.handleInfo) {
      this.#probe?.mailDropped("unhandled");
      return refuseMail(this, (e) => this.#report(e, "handleInfo"));
    }
    if (this.#run !== IDLE || this.#phase !== OPEN) {
      return this.#enqueue(INFO, message) || this.#dropped("full");
    }
    this.#run = SCHEDULED;
    this.#mail = message;
    const ready = Engine.#ready;
    ready.push(this as Engine<unknown, unknown, unknown>);
    if (ready.length === 1) queueMicrotask(Engine.#drainReady);
    return true;
  }

  #dropped(reason: "closed" | "full"): false {
    this.#probe?.mailDropped(reason);
    return false;
  }

  /**
   * Send a frame without `handleInfo` (the fastlane): now when idle (open, not running, no
   * mail scheduled: the queue is empty), else after the queued events, never before their
   * pushes.
   * @param data A `string` (text frame) or a `Uint8Array` (binary frame).
   * @returns `false` when dropped: closing or closed, queue full (1013), peer not reading (1008).
   */
  sendFrame(data: string | Uint8Array): boolean {
    if (this.#phase > OPEN || this.#socketClosed) return false;
    if (this.#phase === OPEN && this.#run === IDLE) this.#sendAll(data);
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
    this.#probe?.sent(data);
  }

  // Engines with mail and nothing running: one microtask drains them all (not one each).
  static #ready: Engine<unknown, unknown, unknown>[] = [];

  static #drainReady(): void {
    const ready = Engine.#ready;
    Engine.#ready = [];
    for (let i = 0; i < ready.length; i++) {
      const engine = ready[i];
      if (engine.#run !== SCHEDULED) continue;
      const mail = engine.#mail;
      engine.#mail = undefined;
      engine.#run = IDLE;
      try {
        if (engine.#phase === OPEN) engine.#loop(INFO, mail);
      } catch (error) {
        // #loop catches callback errors; this only guards the loop for the other engines.
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
    if (this.#phase > OPEN) return;
    this.#end ??= timeout ? { type: "timeout" } : { type: "error", error };
  }

  /**
   * The socket closed. Events received before the close are still delivered; then
   * `terminate` runs with the peer's code and reason (or the transport error). A close
   * without a close frame (1006) is an error with code `CONNECTION_LOST`, not a remote close.
   *
   * @param code The close code the peer sent (1005 when none, 1006 when abnormal).
   * @param reason The close reason the peer sent.
   */
  closed(code: number, reason: string): void {
    this.#probe?.closeReceived(code, reason);
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    this.#clearTimer();
    this.#closing();
    if (this.#phase === CONNECTING) return this.#done();
    if (this.#phase !== OPEN) return;
    const end = this.#end ??
      (code === CloseCode.Abnormal ? connectionLost() : { type: "remote", code, reason });
    if (this.#run !== IDLE) this.#events().push(CLOSED, end);
    else this.#decideEnd(end);
  }

  /**
   * Close the connection because the server is going away: 1001 (or 1012 for a restart),
   * and `terminate` sees `shutdown`.
   *
   * @param restart Whether the server is restarting rather than stopping.
   */
  shutdown(restart = false): void {
    const code = restart ? CloseCode.ServiceRestart : CloseCode.GoingAway;
    if (this.#phase === CONNECTING) {
      this.#closing();
      this.#closeSocket(code, "");
      return this.#done();
    }
    this.#stop(code, restart ? "Server restarting" : "Server shutting down", {
      type: "shutdown",
      code,
    });
  }

  #enqueue(kind: Kind, payload: unknown): boolean {
    const waiting = this.#queue.size + (this.#run === SCHEDULED ? 1 : 0); // #mail waits too
    if (waiting >= this.#options.maxQueuedEvents) {
      const max = this.#options.maxQueuedEvents;
      const message = `Cannot queue event: ${max} events already wait (maxQueuedEvents)`;
      this.#stop(CloseCode.TryAgainLater, "Too many queued events", {
        type: "error",
        error: withCode(new RangeError(message), "QUEUE_FULL"),
      });
      return false;
    }
    this.#events().push(kind, payload);
    return true;
  }

  // The queue to push on: this engine's own, made at the first event that must wait.
  #events(): EventQueue {
    const queue = this.#queue;
    return queue === NO_EVENTS ? (this.#queue = new EventQueue()) : queue;
  }

  // Nothing waits any more (the end was decided): drop the queue and the mail.
  #dropEvents(): void {
    this.#queue = NO_EVENTS;
    this.#mail = undefined;
  }

  // Run one event, then every queued one, until the queue is empty or a callback is async.
  #loop(kind: Kind, payload: unknown): void {
    this.#run = RUNNING;
    for (;;) {
      if (kind === CLOSED) {
        this.#run = IDLE;
        return this.#decideEnd(payload as TerminateReason);
      }
      const probe = kind === FRAME ? undefined : this.#probe; // a frame is no callback
      probe?.callStarted();
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
        probe?.callEnded(SOURCES[kind]);
        this.#apply(result, kind);
      } catch (error) {
        probe?.callEnded(SOURCES[kind]);
        this.#crash(error, kind);
      }
      if (this.#phase !== OPEN) return this.#settled();
      const queue = this.#queue;
      if (queue.empty) {
        this.#run = IDLE;
        queue.rewind();
        return;
      }
      kind = queue.nextKind();
      payload = queue.take();
    }
  }

  #next(): void {
    const queue = this.#queue;
    if (!queue.empty) return this.#loop(queue.nextKind(), queue.take());
    this.#run = IDLE;
    queue.rewind();
  }

  #call(kind: Kind, payload: unknown): CallbackResult<S> {
    const handler = this.#handler;
    const state = this.#state as S;
    switch (kind) {
      case IN:
        return handler.handleIn(payload as string | Uint8Array, state);
      case INFO:
        return handler.handleInfo!(payload as M, state);
      case CONTROL:
        return handler.handleControl!(payload as ControlFrame, state);
      case FRAME: // not a callback: a queued frame goes out in its turn
        this.#sendAll(payload as Messages);
        return { kind: "ok", state };
      default: {
        const arg = this.#arg as A;
        this.#arg = undefined;
        return handler.init(arg, this.#handle);
      }
    }
  }

  #resume(result: unknown, kind: Kind): void {
    this.#probe?.callEnded(SOURCES[kind]);
    if (this.#phase === OPEN) {
      try {
        this.#apply(result, kind);
      } catch (error) {
        this.#crash(error, kind);
      }
    } else if (isResult(result)) {
      // The end was decided while this callback ran: keep its state, send nothing.
      this.#state = result.state as S;
    }
    if (this.#phase !== OPEN) this.#settled();
    else this.#next();
  }

  #resumeFailed(error: unknown, kind: Kind): void {
    this.#probe?.callEnded(SOURCES[kind]);
    if (this.#phase === OPEN) this.#crash(error, kind);
    else this.#report(error, SOURCES[kind]);
    this.#settled();
  }

  // The one place a result takes effect (what it means is decided in _decide.ts).
  #apply(result: unknown, kind: Kind): void {
    const { state, messages, stop } = decide<S>(result, SOURCES[kind], this.#transport);
    this.#state = state;
    if (messages !== undefined) this.#sendAll(messages);
    if (stop !== undefined) this.#stop(stop.code, stop.reason, stop.end);
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
      this.#probe?.sent(message);
    } else if (message instanceof Uint8Array) {
      t.sendBinary(message);
      this.#unchecked += message.byteLength;
      this.#probe?.sent(message);
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
          return this.#probe?.sentControl("ping", message.data);
        case "pong":
          t.sendPong!(message.data);
          return this.#probe?.sentControl("pong", message.data);
      }
      this.#probe?.sent(message.data);
    }
  }

  // The slow-peer rule (_slow_peer.ts): looked at before a message, once enough was queued.
  #slowPeer(): boolean {
    const buffered = this.#transport.bufferedAmount();
    const error = slowPeer(buffered, this.#unchecked, this.#options);
    this.#unchecked = 0;
    if (error === undefined) return false;
    this.#probe?.slow(buffered);
    this.#stop(CloseCode.PolicyViolation, "Peer is not reading", { type: "error", error });
    return true;
  }

  #crash(error: unknown, kind: Kind): void {
    this.#report(error, SOURCES[kind] ?? "transport");
    this.#stop(CloseCode.InternalError, "Internal error", { type: "error", error });
  }

  #report(error: unknown, source: ErrorSource): void {
    try {
      this.#options.onError(error, { source, connection: this.#handle as Connection<unknown> });
    } catch {
      // An error hook that throws must not take the connection or the server down.
    }
  }

  // OPEN → STOPPING, by the server: the socket is closed with this code now.
  #stop(code: number, reason: string, end: TerminateReason): void {
    this.#decideEnd(end, code, reason);
  }

  // OPEN → STOPPING: the end is decided (the server's, or the socket's close). The mailbox
  // stops, the socket closes (when the server decided), `terminate` runs once nothing runs.
  #decideEnd(end: TerminateReason, code?: number, reason = ""): void {
    if (this.#phase !== OPEN) return;
    this.#phase = STOPPING;
    this.#end = end;
    this.#closing();
    this.#dropEvents();
    this.#clearTimer();
    if (code !== undefined) this.#closeSocket(code, reason);
    if (this.#run !== RUNNING) this.#terminate();
  }

  #closeSocket(code: number, reason: string): void {
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    this.#probe?.closeSent(code, reason);
    this.#callListener(() => this.#transport.close(code, reason));
  }

  // The callback in flight settled after the end was decided.
  #settled(): void {
    this.#run = IDLE;
    if (this.#phase === STOPPING) this.#terminate();
  }

  // STOPPING → TERMINATING → DONE: `terminate` (when init returned), then the end is told.
  #terminate(): void {
    this.#phase = TERMINATING;
    this.#dropEvents();
    this.#clearTimer();
    const state = this.#state;
    if (state !== NO_STATE) {
      const probe = this.#probe;
      const start = probe?.timesCallbacks ? performance.now() : 0;
      try {
        const done = this.#handler.terminate?.(this.#end!, state);
        if (isThenable(done)) {
          done.then(() => this.#terminated(start), (error) => {
            this.#report(error, "terminate");
            this.#terminated(start);
          });
          return;
        }
      } catch (error) {
        this.#report(error, "terminate");
      }
      if (probe?.timesCallbacks && this.#handler.terminate) probe.took("terminate", start);
    }
    this.#done();
  }

  #terminated(start: number): void {
    if (this.#probe?.timesCallbacks) this.#probe.took("terminate", start);
    this.#done();
  }

  // → DONE (once): telemetry told, the registry left, the done hook called.
  #done(): void {
    if (this.#phase === DONE) return;
    this.#phase = DONE;
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
      this.#stop(CloseCode.InternalError, "Internal error", {
        type: "error",
        error: withCode(new Error("Abandoned: a callback did not settle in time"), "ABANDONED"),
      });
    }
    if (this.#phase === STOPPING) {
      this.#run = IDLE;
      this.#terminate();
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
    if (action === PING) {
      const empty = new Uint8Array(0);
      engine.#callListener(() => engine.#transport.sendPing!(empty));
      engine.#probe?.sentControl("ping", empty);
    } else if (action === TIMEOUT) {
      engine.#stop(CloseCode.GoingAway, "Idle timeout", { type: "timeout" });
    }
  }

  #clearTimer(): void {
    if (this.#live === undefined) return;
    this.#live = undefined;
    unwatch(this.#options, this);
  }
}
