// TestConnection: a handler on the real engine over an in-memory transport.

import {
  checkHandler,
  checkOptionNames,
  type CloseFrame,
  Engine,
  ENGINE_OPTION_NAMES,
  type EngineOptions,
  resolveEngineOptions,
  type Transport,
} from "../engine/mod.ts";
import { FakeClock } from "./fake_clock.ts";
import type { Connection, OutMessage, RemoteAddr, TerminateReason, WebSock } from "../websock.ts";

/** Options of {@linkcode TestConnection.start}. */
export interface TestConnectionOptions<A> extends Omit<EngineOptions, "clock"> {
  /**
   * The argument `init` receives.
   * @default {undefined}
   */
  arg?: A;
  /**
   * The connection's URL.
   * @default {"ws://localhost/"}
   */
  url?: string;
  /**
   * The upgrade request's headers.
   * @default {Empty}
   */
  headers?: HeadersInit;
  /**
   * The peer's address.
   * @default {{ hostname: "127.0.0.1", port: 50000 }}
   */
  remoteAddr?: RemoteAddr | null;
  /**
   * The negotiated subprotocol.
   * @default {""}
   */
  protocol?: string;
  /**
   * Whether the simulated server can send ping and pong frames (the Node and Bun adapters
   * can, Deno cannot). With them the engine pings a silent peer (an empty ping in `sent`),
   * and `pong()` keeps it open; without them nothing pings, and `timeout` closes after that
   * long without a frame from the peer (on Deno, Deno's own keep-alive does the pinging).
   * @default {true}
   */
  controlFrames?: boolean;
  /**
   * The clock; advance it with {@linkcode TestConnection.advance}.
   * @default {A new FakeClock at 0}
   */
  clock?: FakeClock;
}

const OPTION_NAMES = [
  ...ENGINE_OPTION_NAMES,
  "arg",
  "url",
  "headers",
  "remoteAddr",
  "protocol",
  "controlFrames",
];

/**
 * The options parameter of {@linkcode TestConnection.start}, given the argument `A` that the
 * handler's `init` takes: optional when `init` takes none, required with `arg` otherwise.
 *
 * @typeParam A The argument `init` receives.
 */
export type TestConnectionArgs<A> = undefined extends A ? [options?: TestConnectionOptions<A>]
  : [
    optionsWithArgBecauseInitTakesAnArgument:
      & TestConnectionOptions<A>
      & InitTakesAnArgumentSoArgMustGiveIt<A>,
  ];

/**
 * The part of {@linkcode TestConnectionOptions} that a handler whose `init` takes an argument
 * needs: `arg`. Its name is the compile error's message when `arg` is missing.
 *
 * @typeParam A The argument `init` receives.
 */
export interface InitTakesAnArgumentSoArgMustGiveIt<A> {
  /** The argument `init` receives. */
  readonly arg: A;
}

/**
 * One connection of a handler, on the real engine, over memory. Every method that feeds an
 * event resolves once the handler is idle again (async callbacks included), so a test reads
 * the outcome right after `await`.
 *
 * @typeParam S The handler's state.
 * @typeParam M The mailbox messages ({@linkcode TestConnection.info}).
 * @typeParam A The argument `init` receives.
 *
 * @example Mailbox, close frame and terminate
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, stop, type WebSock } from "@websock/websock";
 * import { TestConnection } from "@websock/websock/testing";
 *
 * const Greeter = {
 *   init: (name: string) => push(`hi ${name}`, { name }),
 *   handleIn: (data, state) => data === "bye" ? stop("normal", state, 4000) : ok(state),
 *   handleInfo: (news: string, state) => push(news, state),
 * } satisfies WebSock<{ name: string }, string>;
 *
 * const conn = await TestConnection.start(Greeter, { arg: "ann" });
 * await conn.info("lunch is ready");
 * await conn.receive("bye");
 * assert.deepEqual(conn.texts(), ["hi ann", "lunch is ready"]);
 * assert.deepEqual(conn.closeFrame, { code: 4000, reason: "" });
 * assert.deepEqual(conn.terminateReason, { type: "normal", code: 4000, reason: "" });
 * ```
 */
export class TestConnection<S, M = never, A = undefined> {
  readonly #engine: Engine<S, M, A>;
  readonly #sent: OutMessage[] = [];
  readonly #errors: unknown[] = [];
  #closeFrame: CloseFrame | null = null;
  #terminateReason: TerminateReason | null = null;
  #over = false;
  #buffered = 0;
  /** The clock the connection's timers run on. */
  readonly clock: FakeClock;

  private constructor(handler: WebSock<S, M, A>, options: TestConnectionOptions<A>) {
    this.clock = options.clock ?? new FakeClock();
    const controlFrames = options.controlFrames ?? true;
    const transport: Transport = {
      sendText: (data) => void this.#sent.push({ type: "text", data }),
      sendBinary: (data) => void this.#sent.push({ type: "binary", data }),
      sendPing: controlFrames ? (data) => void this.#sent.push({ type: "ping", data }) : undefined,
      sendPong: controlFrames ? (data) => void this.#sent.push({ type: "pong", data }) : undefined,
      close: (code, reason) => {
        this.#closeFrame = { code, reason };
      },
      bufferedAmount: () => this.#buffered,
    };
    const userOnError = options.onError;
    // Each callback is called on the handler itself (a class instance keeps its methods and
    // its `this`), only terminate is watched.
    const observed: WebSock<S, M, A> = {
      init: (arg, connection) => handler.init(arg, connection),
      handleIn: (data, state) => handler.handleIn(data, state),
      handleControl: handler.handleControl &&
        ((frame, state) => handler.handleControl!(frame, state)),
      handleInfo: handler.handleInfo && ((message, state) => handler.handleInfo!(message, state)),
      terminate: (reason, state) => {
        this.#terminateReason = reason;
        return handler.terminate?.(reason, state);
      },
    };
    this.#engine = new Engine(observed, transport, {
      arg: options.arg as A,
      info: {
        url: options.url ?? "ws://localhost/",
        headers: new Headers(options.headers),
        remoteAddr: options.remoteAddr === undefined
          ? { hostname: "127.0.0.1", port: 50000 }
          : options.remoteAddr,
        protocol: options.protocol ?? "",
      },
      options: resolveEngineOptions({
        ...options,
        clock: this.clock,
        onError: (error, context) => {
          this.#errors.push(error);
          userOnError?.(error, context);
        },
      }),
      onDone: () => {
        this.#over = true;
      },
    });
  }

  /**
   * Open a connection: run `init` (and wait for it, if it is async).
   *
   * @param handler The behaviour under test.
   * @param options The init argument (`arg`: required when `init` takes one), connection
   *   info, limits and clock.
   * @returns The open connection.
   *
   * @example An init argument
   * ```ts
   * import assert from "node:assert/strict";
   * import { push, type WebSock } from "@websock/websock";
   * import { TestConnection } from "@websock/websock/testing";
   *
   * const Room = {
   *   init: (room: string) => push(`joined ${room}`, { room }),
   *   handleIn: (data, state) => push(`${state.room}: ${data}`, state),
   * } satisfies WebSock<{ room: string }>;
   *
   * const conn = await TestConnection.start(Room, { arg: "lobby", timeout: 0 });
   * await conn.receive("hello");
   * assert.deepEqual(conn.texts(), ["joined lobby", "lobby: hello"]);
   * ```
   */
  static async start<S, M, A>(
    handler: WebSock<S, M, A>,
    ...optionsWithArgWhenInitTakesAnArgument: TestConnectionArgs<A>
  ): Promise<TestConnection<S, M, A>> {
    const connection = TestConnection.#open(
      "start",
      handler,
      optionsWithArgWhenInitTakesAnArgument,
    );
    await connection.settle();
    return connection;
  }

  /**
   * Open a connection without waiting for `init`: what is fed before it settles waits behind
   * it, as the messages of a peer that talks at once wait behind an async `init`. Use
   * {@linkcode TestConnection.start} unless that order is what you test.
   *
   * @param handler The behaviour under test.
   * @param options As for {@linkcode TestConnection.start}.
   * @returns The connection, its `init` still running if it is async.
   *
   * @example Messages that arrive during an async init
   * ```ts
   * import assert from "node:assert/strict";
   * import { ok, push, type WebSock } from "@websock/websock";
   * import { TestConnection } from "@websock/websock/testing";
   *
   * const Slow = {
   *   init: async () => {
   *     await new Promise((resolve) => setTimeout(resolve, 10));
   *     return ok("ready");
   *   },
   *   handleIn: (data, state) => push(`${state}: ${data}`, state),
   * } satisfies WebSock<string>;
   *
   * const conn = TestConnection.open(Slow, { timeout: 0 });
   * conn.receive("early");
   * await conn.settle();
   * assert.deepEqual(conn.texts(), ["ready: early"]);
   * ```
   */
  static open<S, M, A>(
    handler: WebSock<S, M, A>,
    ...optionsWithArgWhenInitTakesAnArgument: TestConnectionArgs<A>
  ): TestConnection<S, M, A> {
    return TestConnection.#open("open", handler, optionsWithArgWhenInitTakesAnArgument);
  }

  static #open<S, M, A>(
    name: "start" | "open",
    handler: WebSock<S, M, A>,
    [options = {}]: TestConnectionArgs<A>,
  ): TestConnection<S, M, A> {
    checkHandler(handler, `TestConnection.${name}()`);
    checkOptionNames(options, OPTION_NAMES);
    const connection = new TestConnection(handler, options);
    connection.#engine.open();
    return connection;
  }

  /** The connection's handle, as `init` received it (its `send` is the mailbox). */
  get connection(): Connection<M> {
    return this.#engine.connection;
  }

  /** The handler's current state. */
  get state(): S | undefined {
    return this.#engine.state;
  }

  /** Every frame the server sent, in order (close frames excepted: see `closeFrame`). */
  get sent(): readonly OutMessage[] {
    return this.#sent;
  }

  /** The data of the text frames sent, in order. */
  texts(): string[] {
    return this.#sent.flatMap((m) => m.type === "text" ? [m.data] : []);
  }

  /** Take (and forget) the frames sent so far. */
  takeSent(): OutMessage[] {
    return this.#sent.splice(0);
  }

  /** The close frame the server sent, or `null` while it has not closed. */
  get closeFrame(): CloseFrame | null {
    return this.#closeFrame;
  }

  /** What `terminate` was told, or `null` while it has not run. */
  get terminateReason(): TerminateReason | null {
    return this.#terminateReason;
  }

  /** Whether the connection is over (terminated, or never will be). */
  get over(): boolean {
    return this.#over;
  }

  /** Everything the error hook was told (throws, invalid results, failed terminates). */
  get errors(): readonly unknown[] {
    return this.#errors;
  }

  /**
   * Pretend this many bytes wait toward the peer (a slow reader), for `maxBufferedBytes`.
   *
   * @param bytes The simulated `bufferedAmount`.
   */
  setBufferedAmount(bytes: number): void {
    this.#buffered = bytes;
  }

  /**
   * The peer sends a data message: a `string` (text) or a `Uint8Array` (binary).
   *
   * @param data The message.
   */
  async receive(data: string | Uint8Array): Promise<void> {
    this.#engine.receive(data);
    await this.settle();
  }

  /**
   * The peer sends a ping (the server's automatic pong is not recorded).
   *
   * @param data The payload.
   */
  async ping(data: Uint8Array = new Uint8Array()): Promise<void> {
    this.#engine.control("ping", data);
    await this.settle();
  }

  /**
   * The peer sends a pong.
   *
   * @param data The payload.
   */
  async pong(data: Uint8Array = new Uint8Array()): Promise<void> {
    this.#engine.control("pong", data);
    await this.settle();
  }

  /**
   * Send a message to the connection's mailbox (`handleInfo`).
   *
   * @param message The message.
   * @returns What the mailbox's `send` returned.
   */
  async info(message: M): Promise<boolean> {
    const accepted = this.#engine.connection.send(message);
    await this.settle();
    return accepted;
  }

  /**
   * The peer closes.
   *
   * @param code The peer's close code (1005 for none).
   * @param reason The peer's close reason.
   */
  async close(code = 1005, reason = ""): Promise<void> {
    this.#engine.closed(code, reason);
    await this.settle();
  }

  /**
   * The server drains its connections (1001, or 1012 with `restart`).
   *
   * @param restart Whether the server restarts.
   */
  async shutdown(restart = false): Promise<void> {
    this.#engine.shutdown(restart);
    await this.settle();
  }

  /**
   * Move the clock forward, firing the timers that fall due (keep-alive pings and timeouts).
   *
   * @param ms Milliseconds to advance.
   */
  async advance(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.settle();
  }

  /** Wait until no callback runs or waits (async callbacks, mailbox deliveries, terminate). */
  async settle(): Promise<void> {
    for (let round = 0; round < 10_000; round++) {
      if (this.#engine.idle && (this.#over || !this.#engine.done)) return;
      // Microtasks first (sync handlers, promise chains); then let timers of async handlers run.
      if (round < 100) await Promise.resolve();
      else await new Promise((resolve) => setTimeout(resolve, 0));
    }
    throw new Error("TestConnection.settle(): the handler did not become idle");
  }
}
