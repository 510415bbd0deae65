/**
 * The runtime-neutral connection engine that every adapter drives: one per connection. It
 * owns the event queue (socket events and mailbox messages, one at a time, in order), the
 * idle timer, the limits, and the mapping from callback results to frames and close codes.
 *
 * An adapter translates its server's socket events into calls of {@linkcode Engine.open},
 * {@linkcode Engine.receive}, {@linkcode Engine.control}, {@linkcode Engine.error} and
 * {@linkcode Engine.closed}, and implements {@linkcode Transport} for what the engine sends.
 * It validates upgrades with {@linkcode checkUpgrade}, {@linkcode checkOrigin} and
 * {@linkcode negotiateProtocol}, and drains connections with a {@linkcode Registry}.
 *
 * @example A minimal in-memory transport
 * ```ts
 * import { Engine, resolveEngineOptions, type Transport } from "@websock/websock/engine";
 * import { ok, push, type WebSock } from "@websock/websock";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 *   handleInfo: (_message, state) => ok(state),
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
 * engine.closed(1000, "");
 * // sent is now ["hi"]
 * ```
 *
 * @module
 */

import { checkClose, utf8Length } from "./close.ts";
import type { ErrorSource, ResolvedEngineOptions } from "./options.ts";
import type { Registry } from "./registry.ts";
import type {
  CallbackResult,
  Connection,
  ConnectionInfo,
  ControlFrame,
  Outbound,
  RemoteAddr,
  Result,
  StopResult,
  TerminateReason,
  WebSock,
} from "./websock.ts";

export * from "./options.ts";
export * from "./close.ts";
export * from "./handshake.ts";
export * from "./registry.ts";
export * from "./adapter_options.ts";

/**
 * What the engine needs from a socket. Adapters implement it over their server's socket.
 * Sends after the socket closed must be harmless no-ops.
 */
export interface Transport {
  /** Send a text frame. */
  sendText(data: string): void;
  /** Send a binary frame. */
  sendBinary(data: Uint8Array): void;
  /** Send a ping; leave it out when the server cannot (a pushed ping then fails clearly). */
  sendPing?(data: Uint8Array): void;
  /** Send a pong; leave it out when the server cannot (a pushed pong then fails clearly). */
  sendPong?(data: Uint8Array): void;
  /** Send a close frame and close the socket. The code and reason are already checked. */
  close(code: number, reason: string): void;
  /** Bytes queued toward the peer and not yet written. */
  bufferedAmount(): number;
}

/** What an engine is made with, besides the handler and the transport. */
export interface EngineInit<A> {
  /** The argument `init` receives. */
  readonly arg: A;
  /** The connection's URL, headers, address and subprotocol. */
  readonly info: ConnectionInfo;
  /** Limits, error hook and clock, from {@linkcode resolveEngineOptions}. */
  readonly options: ResolvedEngineOptions;
  /** Called once the connection is over (after `terminate` settled, if it ran). */
  readonly onDone?: (engine: Engine<unknown, unknown, unknown>) => void;
  /**
   * Where the connection is tracked for a drain: the engine adds itself now and removes
   * itself once it is over.
   */
  readonly registry?: Registry;
}

// Event kinds in the queue, which holds flat (kind, payload) pairs.
const INIT = 0;
const IN = 1;
const CONTROL = 2;
const INFO = 3;
const CLOSED = 4;
type Kind = typeof INIT | typeof IN | typeof CONTROL | typeof INFO | typeof CLOSED;
const SOURCES: readonly ErrorSource[] = ["init", "handleIn", "handleControl", "handleInfo"];

// Phases of a connection.
const CONNECTING = 0; // made, `open` not yet called
const OPEN = 1; // callbacks run
const STOPPING = 2; // the end is decided; `terminate` waits for an in-flight callback
const DONE = 3; // `terminate` was called (or never will be)

// The connections of one options object whose idle timeout a single timer watches.
interface Sweeper {
  readonly engines: Set<Engine<unknown, unknown, unknown>>;
  timer: unknown;
}

class Handle<M> implements Connection<M> {
  readonly #engine: Engine<unknown, M, unknown>;
  readonly #info: ConnectionInfo;

  constructor(engine: Engine<unknown, M, unknown>, info: ConnectionInfo) {
    this.#engine = engine;
    this.#info = info;
  }

  get url(): string {
    return this.#info.url;
  }

  // A getter, so that an adapter can build the headers lazily.
  get headers(): Headers {
    return this.#info.headers;
  }

  get remoteAddr(): RemoteAddr | null {
    return this.#info.remoteAddr;
  }

  get protocol(): string {
    return this.#info.protocol;
  }

  send(message: M): boolean {
    return this.#engine.send(message);
  }

  get closed(): boolean {
    return !this.#engine.accepting;
  }

  onClose(listener: () => void): () => void {
    return this.#engine.onClose(listener);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value).slice(0, 80);
  if (value === null || typeof value !== "object") return String(value);
  try {
    return JSON.stringify(value)?.slice(0, 80) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function endFor(result: StopResult<unknown>, code: number, reason: string): TerminateReason {
  switch (result.reason) {
    case "normal":
      return { type: "normal", code, reason };
    case "shutdown":
    case "restart":
      return { type: "shutdown", code };
    default:
      return { type: "error", error: result.reason };
  }
}

function defaultCode(reason: unknown): number {
  switch (reason) {
    case "normal":
      return 1000;
    case "shutdown":
      return 1001;
    case "restart":
      return 1012;
    default:
      return 1011;
  }
}

/**
 * One connection's engine: drives a {@linkcode WebSock} handler from socket events and
 * mailbox messages, one at a time and in order, and turns its results into frames and close
 * codes on a {@linkcode Transport}.
 *
 * Synchronous callbacks run without a promise; an async callback is awaited before the next
 * event is delivered.
 */
export class Engine<S, M = never, A = undefined> {
  readonly #handler: WebSock<S, M, A>;
  readonly #transport: Transport;
  readonly #options: ResolvedEngineOptions;
  readonly #onDone: ((engine: Engine<unknown, unknown, unknown>) => void) | undefined;
  readonly #registry: Registry | undefined;
  readonly #handle: Handle<M>;
  #arg: A | undefined;
  #state: S | undefined = undefined;
  #initialized = false;
  #phase = CONNECTING;
  #busy = false;
  #scheduled = false;
  #queue: unknown[] = [];
  #head = 0;
  #tail = 0;
  #end: TerminateReason | undefined = undefined;
  #socketClosed = false;
  #failure: TerminateReason | undefined = undefined;
  #sweeping = false;
  #seen = false;
  #lastSeen = 0;
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
    this.#handler = handler;
    this.#transport = transport;
    this.#options = init.options;
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
    return this.#state;
  }

  /** Whether nothing is running or waiting: no callback in flight, no event queued. */
  get idle(): boolean {
    return !this.#busy && !this.#scheduled && this.#head >= this.#tail;
  }

  /** Whether the connection is over: `terminate` was called, or never will be. */
  get done(): boolean {
    return this.#phase === DONE;
  }

  /** The socket is open: run `init`, then whatever was queued meanwhile. */
  open(): void {
    if (this.#phase !== CONNECTING) return;
    this.#phase = OPEN;
    if (this.#options.timeout > 0) {
      this.#lastSeen = this.#options.clock.now();
      this.#sweeping = true;
      Engine.#watch(this as Engine<unknown, unknown, unknown>);
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
    const max = this.#options.maxMessageBytes;
    const size = typeof data === "string"
      ? (data.length * 3 > max ? utf8Length(data) : 0)
      : data.byteLength;
    if (size > max) {
      this.#stop(1009, "Message too big", {
        type: "error",
        error: new RangeError(
          `Cannot receive message: ${size} bytes is more than maxMessageBytes ${max}`,
        ),
      });
      return;
    }
    this.#seen = true;
    if (this.#busy || this.#head < this.#tail) this.#enqueue(IN, data);
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
    this.#seen = true;
    if (!this.#handler.handleControl) return;
    const frame: ControlFrame = { type, data };
    if (this.#busy || this.#head < this.#tail) this.#enqueue(CONTROL, frame);
    else this.#run(CONTROL, frame);
  }

  /**
   * Queue a message for `handleInfo` (the mailbox). It is delivered after the events already
   * queued, never synchronously inside this call.
   *
   * @param message The message.
   * @returns `false` when the message was dropped: the connection is closing or closed, or
   *   its queue is full (which closes it with 1013).
   */
  send(message: M): boolean {
    if (this.#phase > OPEN || this.#socketClosed) return false;
    if (!this.#enqueue(INFO, message)) return false;
    if (!this.#busy && !this.#scheduled && this.#phase === OPEN) {
      this.#scheduled = true;
      const ready = Engine.#ready;
      ready.push(this as Engine<unknown, unknown, unknown>);
      if (ready.length === 1) queueMicrotask(Engine.#drainReady);
    }
    return true;
  }

  // Engines with mail and nothing running: drained by one microtask for all of them (a
  // broadcast to N connections schedules one microtask, not N).
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
    if (this.#failure === undefined) {
      this.#failure = timeout ? { type: "timeout" } : { type: "error", error };
    }
  }

  /**
   * The socket closed. Events received before the close are still delivered; then
   * `terminate` runs with the peer's code and reason (or the transport error).
   *
   * @param code The close code the peer sent (1005 when none, 1006 when abnormal).
   * @param reason The close reason the peer sent.
   */
  closed(code: number, reason: string): void {
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
    const end = this.#failure ?? { type: "remote", code, reason };
    if (this.#busy || this.#head < this.#tail) this.#push(CLOSED, end);
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
    if ((this.#tail - this.#head) >> 1 >= this.#options.maxQueuedEvents) {
      const max = this.#options.maxQueuedEvents;
      this.#stop(1013, "Too many queued events", {
        type: "error",
        error: new RangeError(`Cannot queue event: ${max} events already wait (maxQueuedEvents)`),
      });
      return false;
    }
    this.#push(kind, payload);
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
      if (this.#head >= this.#tail) {
        this.#busy = false;
        if (this.#head > 0) this.#reset();
        return;
      }
      const queue = this.#queue;
      kind = queue[this.#head] as Kind;
      payload = queue[this.#head + 1];
      queue[this.#head + 1] = undefined;
      this.#head += 2;
      this.#compact();
    }
  }

  #next(): void {
    if (this.#head >= this.#tail) {
      this.#busy = false;
      this.#reset();
      return;
    }
    const kind = this.#queue[this.#head] as Kind;
    const payload = this.#queue[this.#head + 1];
    this.#queue[this.#head + 1] = undefined;
    this.#head += 2;
    this.#compact();
    this.#run(kind, payload);
  }

  // Drop the consumed front of the queue once it is most of it: a queue that never empties
  // (events arrive as fast as an async handler takes them) must not grow without bound.
  // The queue is empty: start over at the front, keeping the array (a mailbox message then
  // costs no allocation), unless a burst made it large.
  #reset(): void {
    this.#head = this.#tail = 0;
    if (this.#queue.length > 256) this.#queue = [];
  }

  #push(kind: Kind, payload: unknown): void {
    const queue = this.#queue;
    queue[this.#tail] = kind;
    queue[this.#tail + 1] = payload;
    this.#tail += 2;
  }

  #compact(): void {
    if (this.#head >= 1024 && this.#head * 2 >= this.#tail) {
      this.#queue = this.#queue.slice(this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
  }

  #call(kind: Kind, payload: unknown): CallbackResult<S> {
    const handler = this.#handler;
    switch (kind) {
      case IN:
        return handler.handleIn(payload as string | Uint8Array, this.#state as S);
      case INFO:
        return handler.handleInfo(payload as M, this.#state as S);
      case CONTROL:
        return handler.handleControl!(payload as ControlFrame, this.#state as S);
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
        this.#check(r.messages);
        break;
      case "stop": {
        const close = r.close;
        let code: number, reason: string;
        if (close === undefined) {
          code = defaultCode(r.reason);
          reason = "";
        } else if (typeof close === "number") {
          code = close;
          reason = "";
        } else {
          code = close?.code;
          reason = close?.reason ?? "";
        }
        checkClose(code, reason);
        if (r.messages !== undefined) this.#check(r.messages);
        this.#state = r.state;
        if (kind === INIT) this.#initialized = true;
        if (r.messages !== undefined) this.#sendAll(r.messages);
        this.#stop(code, reason, endFor(r, code, reason));
        return;
      }
      default:
        throw new TypeError(
          `Invalid result from ${SOURCES[kind]}: expected ok(), push() or stop(), got ${
            describe(result)
          }`,
        );
    }
    this.#state = r.state;
    if (kind === INIT) this.#initialized = true;
    if (r.kind === "push") this.#sendAll(r.messages);
  }

  // Validate what a callback asks to send before anything is sent.
  #check(messages: unknown): void {
    if (Array.isArray(messages)) {
      for (const message of messages) this.#checkOne(message);
    } else this.#checkOne(messages);
  }

  #checkOne(message: unknown): void {
    if (typeof message === "string" || message instanceof Uint8Array) return;
    const m = message as { type?: unknown; data?: unknown };
    switch (m?.type) {
      case "text":
        if (typeof m.data === "string") return;
        break;
      case "binary":
        if (m.data instanceof Uint8Array) return;
        break;
      case "ping":
      case "pong": {
        if (!(m.data instanceof Uint8Array)) break;
        const can = m.type === "ping" ? this.#transport.sendPing : this.#transport.sendPong;
        if (!can) {
          throw new TypeError(
            `Cannot push a ${m.type}: this adapter cannot send control frames`,
          );
        }
        if (m.data.byteLength > 125) {
          throw new RangeError(
            `Cannot push a ${m.type}: payload of ${m.data.byteLength} bytes is more than 125`,
          );
        }
        return;
      }
    }
    throw new TypeError(
      `Invalid message to push: expected a string, a Uint8Array or text(), binary(), ping(), pong(), got ${
        describe(message)
      }`,
    );
  }

  #sendAll(messages: Outbound | readonly Outbound[]): void {
    if (this.#socketClosed) return;
    if (Array.isArray(messages)) {
      for (const message of messages) this.#sendOne(message);
    } else this.#sendOne(messages as Outbound);
    if (this.#unchecked >= this.#options.checkBufferedEvery) {
      this.#unchecked = 0;
      const buffered = this.#transport.bufferedAmount();
      if (buffered > this.#options.maxBufferedBytes) {
        this.#stop(1008, "Peer is not reading", {
          type: "error",
          error: new RangeError(
            `Cannot send: ${buffered} bytes wait for the peer, more than maxBufferedBytes ${this.#options.maxBufferedBytes}`,
          ),
        });
      }
    }
  }

  #sendOne(message: Outbound): void {
    const t = this.#transport;
    if (typeof message === "string") {
      t.sendText(message);
      this.#unchecked += message.length;
    } else if (message instanceof Uint8Array) {
      t.sendBinary(message);
      this.#unchecked += message.byteLength;
    } else {
      switch (message.type) {
        case "text":
          t.sendText(message.data);
          this.#unchecked += message.data.length;
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

  #crash(error: unknown, kind: Kind): void {
    this.#report(error, SOURCES[kind]);
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
    this.#queue = [];
    this.#head = this.#tail = 0;
    this.#clearTimer();
    this.#closeSocket(code, reason);
    if (!this.#busy) this.#finish();
  }

  #closeSocket(code: number, reason: string): void {
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    try {
      this.#transport.close(code, reason);
    } catch (error) {
      this.#report(error, "transport");
    }
  }

  #settle(): void {
    this.#busy = false;
    if (this.#phase === STOPPING) this.#finish();
  }

  #finish(): void {
    this.#phase = DONE;
    this.#queue = [];
    this.#head = this.#tail = 0;
    this.#clearTimer();
    const end = this.#end!;
    const terminate = this.#handler.terminate;
    if (this.#initialized && terminate) {
      try {
        const done = terminate.call(this.#handler, end, this.#state as S);
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
    this.#registry?.delete(this as Engine<unknown, unknown, unknown>);
    this.#onDone?.(this as Engine<unknown, unknown, unknown>);
  }

  /**
   * Give up on a connection whose callback (or async `terminate`) never settles: close it
   * with 1011 if it is still open, run `terminate` now with the last good state if it has not
   * run, and report the connection done. Results that arrive later are ignored.
   */
  abandon(): void {
    if (this.#phase === CONNECTING) {
      this.shutdown();
      return;
    }
    if (this.#phase === OPEN) {
      this.#stop(1011, "Internal error", {
        type: "error",
        error: new Error("Abandoned: a callback did not settle in time"),
      });
    }
    if (this.#phase === STOPPING) {
      this.#busy = false;
      this.#finish();
    }
    this.#done();
  }

  // Idle timeout: one sweeper per options object (not one timer per connection) looks at its
  // connections every timeout/4 ms; a connection that received anything since the last look
  // counts as seen at that look. An idle connection closes between `timeout` and
  // 1.25 × `timeout` after its last message, never before. Receiving costs a flag, not a clock
  // read, and a connection costs no timer of its own.
  static #sweepers = new Map<ResolvedEngineOptions, Sweeper>();

  static #watch(engine: Engine<unknown, unknown, unknown>): void {
    const options = engine.#options;
    let sweeper = Engine.#sweepers.get(options);
    if (sweeper === undefined) {
      sweeper = { engines: new Set(), timer: undefined };
      Engine.#sweepers.set(options, sweeper);
      Engine.#schedule(options, sweeper);
    }
    sweeper.engines.add(engine);
  }

  static #schedule(options: ResolvedEngineOptions, sweeper: Sweeper): void {
    const clock = options.clock;
    sweeper.timer = clock.setTimeout(() => {
      sweeper.timer = undefined;
      const now = clock.now();
      for (const engine of sweeper.engines) engine.#sweep(now);
      if (sweeper.engines.size > 0 && sweeper.timer === undefined) {
        Engine.#schedule(options, sweeper);
      }
    }, Math.max(1, Math.floor(options.timeout / 4)));
  }

  #sweep(now: number): void {
    if (this.#seen) {
      this.#seen = false;
      this.#lastSeen = now;
    } else if (now - this.#lastSeen >= this.#options.timeout) {
      this.#stop(1001, "Idle timeout", { type: "timeout" });
    }
  }

  #clearTimer(): void {
    if (this.#sweeping) {
      this.#sweeping = false;
      const sweeper = Engine.#sweepers.get(this.#options);
      if (sweeper === undefined) return;
      sweeper.engines.delete(this as Engine<unknown, unknown, unknown>);
      if (sweeper.engines.size === 0) {
        if (sweeper.timer !== undefined) this.#options.clock.clearTimeout(sweeper.timer);
        Engine.#sweepers.delete(this.#options);
      }
    }
  }
}
