// The conformance suite's client (npm:ws, queueing what it receives, pings and pongs
// included) and its assertions, shared by the suite's check files.

import type { Buffer } from "node:buffer";
import WebSocket from "npm:ws@^8.18.0";

interface IncomingResponse {
  readonly statusCode?: number;
  resume(): void;
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

// An npm:ws client that queues what it receives.
export class Client {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<Closed>;
  readonly received: (string | Uint8Array)[] = [];
  readonly pings: Uint8Array[] = [];
  readonly pongs: Uint8Array[] = [];
  #wake: (() => void) | undefined;

  constructor(url: string, protocols?: string[]) {
    this.socket = new WebSocket(url, protocols);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once("open", () => resolve());
      this.socket.once("error", reject);
      this.socket.once("unexpected-response", (_req: unknown, res: IncomingResponse) => {
        reject(new Error(`HTTP ${res.statusCode}`));
        res.resume();
      });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.socket.once("close", (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString() });
        this.#wake?.();
      });
    });
    this.socket.on("error", () => {});
    this.socket.on("message", (data: Buffer, isBinary: boolean) => {
      this.received.push(isBinary ? new Uint8Array(data) : data.toString());
      this.#wake?.();
    });
    this.socket.on("ping", (data: Buffer) => {
      this.pings.push(new Uint8Array(data));
      this.#wake?.();
    });
    this.socket.on("pong", (data: Buffer) => {
      this.pongs.push(new Uint8Array(data));
      this.#wake?.();
    });
  }

  async until(done: () => boolean, waitMs: number, what: string): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out waiting for ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, Math.min(left, 50));
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  async take(n: number, waitMs: number): Promise<(string | Uint8Array)[]> {
    await this.until(() => this.received.length >= n, waitMs, `${n} messages`);
    return this.received.splice(0, n);
  }

  async close(): Promise<Closed> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
    else if (this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
    return await this.closed;
  }
}

export function fail(message: string): never {
  throw new Error(message);
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

export function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual, (_k, v) => v instanceof Uint8Array ? [...v] : v);
  const e = JSON.stringify(expected, (_k, v) => v instanceof Uint8Array ? [...v] : v);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}
