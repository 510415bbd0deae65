// Runtime-neutral pieces of the Node and Bun benchmark servers (bench/node_server.ts,
// bench/bun_server.ts): the WebSock echo handler with its mailbox fan-out, the raw fan-out, and
// the control routes /stats, /count and /broadcast, which bench/server.ts shares.

import { ok, push, type WebSock } from "../mod.ts";
import type { Connection } from "../websock.ts";

/** What a benchmark server measures: its open connections, and one fan-out. */
export interface Contestant {
  count(): number;
  // One fan-out of `message` to every connection, in server ms (for WebSock: until every
  // handleInfo has pushed it).
  broadcast(message: string): number | Promise<number>;
}

/** The WebSock echo handler, its live connections, and a fan-out through the mailbox. */
export function websockEcho(): Contestant & { Echo: WebSock<Connection<string>, string> } {
  const connections = new Set<Connection<string>>();
  let pending = 0;
  let done: (() => void) | undefined;
  const Echo: WebSock<Connection<string>, string> = {
    init: (_arg, connection) => {
      connections.add(connection as Connection<string>);
      return ok(connection as Connection<string>);
    },
    handleIn: (data, state) => push(data, state),
    handleInfo: (message, state) => {
      if (--pending === 0) done?.();
      return push(message, state);
    },
    terminate: (_reason, state) => {
      connections.delete(state);
    },
  };
  return {
    Echo,
    count: () => connections.size,
    broadcast(message) {
      const start = performance.now();
      const finished = new Promise<void>((resolve) => done = resolve);
      pending = connections.size;
      for (const connection of connections) connection.send(message);
      return finished.then(() => performance.now() - start);
    },
  };
}

/** A raw server's fan-out: one loop of `send` over its sockets, timed. */
export function rawFanOut<T extends { send(data: string): unknown }>(
  sockets: Set<T>,
): Contestant["broadcast"] {
  return (message) => {
    const start = performance.now();
    for (const socket of sockets) socket.send(message);
    return performance.now() - start;
  };
}

/**
 * Answer a control request: `/stats` ({rss, heap} after a forced GC), `/count`, and
 * `/broadcast?reps=N&size=B` (the server time of each of N fan-outs).
 */
export async function control(
  url: URL,
  contestant: Contestant,
  memory: () => { rss: number; heap: number },
): Promise<{ status: number; body: string }> {
  switch (url.pathname) {
    case "/stats":
      return { status: 200, body: JSON.stringify({ ...memory(), count: contestant.count() }) };
    case "/count":
      return { status: 200, body: JSON.stringify({ count: contestant.count() }) };
    case "/broadcast": {
      const reps = Math.min(Number(url.searchParams.get("reps") ?? 10), 1000);
      const message = "x".repeat(Math.min(Number(url.searchParams.get("size") ?? 32), 1 << 20));
      const times: number[] = [];
      for (let i = 0; i < reps; i++) {
        times.push(await contestant.broadcast(message));
        // Let the sockets flush before the next round.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return { status: 200, body: JSON.stringify({ count: contestant.count(), times }) };
    }
    default:
      return { status: 404, body: "Not found\n" };
  }
}
