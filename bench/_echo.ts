// Runtime-neutral pieces of the Node and Bun benchmark servers (bench/node_server.ts,
// bench/bun_server.ts): the WebSock echo handler with its mailbox fan-out, the raw fan-out, and
// the control routes /stats, /count and /broadcast, which bench/server.ts shares.

import { ok, push, type WebSock } from "../mod.ts";
import type { Connection } from "../websock.ts";
import { PubSub } from "../pubsub/mod.ts";

/** What a benchmark server measures: its open connections, and one fan-out. */
export interface Contestant {
  count(): number;
  // One fan-out of `message` to every connection, in server ms (for WebSock: until every
  // handleInfo has pushed it).
  broadcast(message: string): number | Promise<number>;
  // bench/fanout.ts: one fan-out by `mode` (raw contestants: "raw", Bun also "loop"; WebSock:
  // "mail" through handleInfo, "fast" through the fastlane); sync ms and ms until handled.
  fanout?(mode: string, message: string): Promise<FanResult>;
}

/** One fan-out as bench/fanout.ts sees it. */
export interface FanResult {
  /** Wall-clock ms (performance.timeOrigin + now) when it started. */
  readonly start: number;
  /** ms until the call returned (raw loop, publish). */
  readonly syncMs: number;
  /** ms until every handleInfo pushed (mail) and a timer turn passed (deferred native work). */
  readonly settledMs: number;
  /** What publish() said, when there was a publish. */
  readonly delivered?: number;
  readonly dropped?: number;
}

const wall = () => performance.timeOrigin + performance.now();

/** Time a fan-out: `run` returns what it counted; `handled` resolves once every send is done. */
export async function timeFanOut(
  run: () => { delivered?: number; dropped?: number } | void,
  handled?: () => Promise<void>,
): Promise<FanResult> {
  const start = wall();
  const t0 = performance.now();
  const counted = run() ?? {};
  const syncMs = performance.now() - t0;
  await handled?.();
  await new Promise((resolve) => setTimeout(resolve, 0));
  return { start, syncMs, settledMs: performance.now() - t0, ...counted };
}

/**
 * The fan-out server's WebSock handler: every connection joins topic "mail" (through its
 * mailbox: handleInfo pushes the message) and topic "fast" (the fastlane: a frame, no
 * handleInfo) of one PubSub, and echoes what it receives.
 */
export function websockFan(): Contestant & { Fan: WebSock<null, string> } {
  const pubsub = new PubSub<string>();
  const identity = (message: string) => message;
  let live = 0;
  let pending = 0;
  let done: (() => void) | undefined;
  const Fan: WebSock<null, string> = {
    init(_arg, connection) {
      live++;
      pubsub.subscribe("mail", connection);
      pubsub.subscribe("fast", connection, { encode: identity });
      return ok(null);
    },
    handleIn: (data, state) => push(data, state),
    handleInfo(message, state) {
      if (--pending === 0) done?.();
      return push(message, state);
    },
    terminate() {
      live--;
    },
  };
  return {
    Fan,
    count: () => live,
    broadcast: () => 0,
    fanout(mode, message) {
      if (mode === "fast") return timeFanOut(() => pubsub.publish("fast", message));
      if (mode !== "mail") throw new RangeError(`Unknown fan-out mode ${mode}`);
      const handled = new Promise<void>((resolve) => done = resolve);
      return timeFanOut(() => {
        const result = pubsub.publish("mail", message);
        pending = result.delivered;
        if (pending === 0) done!();
        return result;
      }, () => handled);
    },
  };
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

/** A raw server's fan-out for bench/fanout.ts: one loop of `send` over its sockets. */
export function rawFan<T extends { send(data: string): unknown }>(
  sockets: Set<T>,
): Contestant["fanout"] {
  return (_mode, message) =>
    timeFanOut(() => {
      for (const socket of sockets) socket.send(message);
    });
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
    case "/fanout": {
      const round = url.searchParams.get("round") ?? "r";
      const message = `${round}:`.padEnd(32, "x");
      const mode = url.searchParams.get("mode") ?? "raw";
      const result = await contestant.fanout!(mode, message);
      return { status: 200, body: JSON.stringify(result) };
    }
    default:
      return { status: 404, body: "Not found\n" };
  }
}
