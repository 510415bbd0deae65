// Shared by the tests: a server on 127.0.0.1:0, a WebSocket client that collects what it
// receives, a raw TCP client for hand-made requests and frames, and a recording handler.

import { type OptionsArgs, websockHandler, type WebSockHandlerOptions } from "../adapters/deno.ts";
import type { WebSockHandler } from "../adapters/deno.ts";
import type { TerminateReason, WebSock } from "../mod.ts";

export interface TestServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly handler: WebSockHandler;
  readonly server: Deno.HttpServer;
}

/** Serve a handler on 127.0.0.1:0; `await using` shuts the server down. */
export function serve<S, M, A>(
  handler: WebSock<S, M, A>,
  ...options: OptionsArgs<WebSockHandlerOptions<A, M>, A>
): TestServer {
  const ws = websockHandler(handler, ...options);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, ws);
  const port = server.addr.port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    handler: ws,
    server,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** A WebSocket client that queues what it receives. */
export class Client implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<Closed>;
  readonly #messages: (string | Uint8Array)[] = [];
  #waiting: ((message: string | Uint8Array) => void) | undefined;

  constructor(url: string, protocols?: string | string[]) {
    this.socket = new WebSocket(url, protocols);
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () => resolve(), { once: true });
      this.socket.addEventListener("error", () => reject(new Error("client error")), {
        once: true,
      });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.socket.addEventListener("close", (e) => {
        resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
      });
    });
    this.socket.addEventListener("message", (e) => {
      const data = typeof e.data === "string" ? e.data : new Uint8Array(e.data);
      if (this.#waiting) {
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting(data);
      } else this.#messages.push(data);
    });
  }

  /** The next message received. */
  next(): Promise<string | Uint8Array> {
    if (this.#messages.length > 0) return Promise.resolve(this.#messages.shift()!);
    return new Promise((resolve) => this.#waiting = resolve);
  }

  /** The next `n` messages received. */
  async take(n: number): Promise<(string | Uint8Array)[]> {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.next());
    return out;
  }

  /** What was received and not yet taken. */
  get pending(): readonly (string | Uint8Array)[] {
    return this.#messages;
  }

  send(data: string | Uint8Array): void {
    this.socket.send(data);
  }

  /** Close (if still open) and wait for the close event. */
  async close(code?: number, reason?: string): Promise<Closed> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason);
    return await this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState === WebSocket.CONNECTING) await this.opened.catch(() => {});
    await this.close();
  }
}

/** Open a client and wait until it is open. */
export async function connect(url: string, protocols?: string | string[]): Promise<Client> {
  const client = new Client(url, protocols);
  await client.opened;
  return client;
}

/** What a recording handler saw. */
export interface Recording<S> {
  readonly calls: string[];
  readonly terminations: { reason: TerminateReason; state: S }[];
  /** Resolves with the first termination. */
  readonly terminated: Promise<{ reason: TerminateReason; state: S }>;
}

/** Wrap a handler so that its terminate calls are recorded. */
export function recorded<S, M, A>(
  handler: WebSock<S, M, A>,
): { handler: WebSock<S, M, A>; recording: Recording<S> } {
  const calls: string[] = [];
  const terminations: { reason: TerminateReason; state: S }[] = [];
  let resolve!: (value: { reason: TerminateReason; state: S }) => void;
  const terminated = new Promise<{ reason: TerminateReason; state: S }>((r) => resolve = r);
  return {
    handler: {
      ...handler,
      terminate(reason, state) {
        calls.push("terminate");
        terminations.push({ reason, state });
        resolve({ reason, state });
        return handler.terminate?.(reason, state);
      },
    },
    recording: { calls, terminations, terminated },
  };
}

export { closePayload, encodeFrame, KEY, Raw, upgradeRequest } from "../testing/_raw.ts";

/** Resolve after `ms` milliseconds (only for short, configured waits). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reject when `promise` takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait (bounded, polling every 10 ms) until `done()` holds; the message says what for. */
export async function until(
  done: () => boolean,
  what: string | (() => string),
  ms = 5000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) {
      throw new Error(`Timed out waiting for ${typeof what === "string" ? what : what()}`);
    }
    await delay(10);
  }
}

/** mulberry32: a small seeded PRNG, so that a failing case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
