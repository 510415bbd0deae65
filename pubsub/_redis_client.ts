// What the Redis backends share about ioredis clients.

import type { Redis } from "npm:ioredis@^5.4.1";
import { showValue } from "../engine/show_value.ts";
import { showUrl } from "./_outage.ts";

/** How long ioredis waits for a socket to close after `disconnect()` before destroying it. */
export const DISCONNECT_TIMEOUT = 100;

/**
 * How long ioredis waits before it asks a Redis that is still loading its data (a restart
 * with an append-only file) again whether it is ready (`maxLoadingRetryTime`; its default
 * follows Redis's estimate, a second or more). Short, so that `closeClient` can wait out that
 * timer, which `disconnect()` does not clear.
 */
export const LOADING_RETRY = 100;

/** The clients that connected and have not been ready since: a ready check may be pending. */
const checking = new WeakSet<Redis>();

/**
 * Follow the client's ready check, for `closeClient`: from a connection until the client is
 * ready, ioredis may have a retry timer running (Redis was loading), and when that timer
 * fires after a close it fails the check and disconnects once more (another
 * `DISCONNECT_TIMEOUT` timer). Call it once, on a new client.
 */
export function followReadyCheck(client: Redis): void {
  client.on("connect", () => checking.add(client));
  client.on("ready", () => checking.delete(client));
}

/**
 * Close an ioredis client and wait until its socket is gone. A client that is waiting to
 * reconnect (Redis down) only needs its timer cleared: `disconnect()` does that, and no
 * `end` event follows, so none is awaited (waiting for it would hang forever). ioredis then
 * leaves a `disconnectTimeout` timer running, which is waited for instead (bounded), as is a
 * pending ready check's retry (see {@linkcode followReadyCheck}).
 * `quit: false` disconnects a ready client too (a reader blocked in XREAD: QUIT would wait
 * behind it).
 */
export async function closeClient(client: Redis, { quit = true } = {}): Promise<void> {
  const status = client.status;
  if (status === "end") return;
  const disconnecting = (client.options.disconnectTimeout ?? 2000) + 20;
  // A ready check's retry (ioredis's own timer, see followReadyCheck), then its disconnect.
  const retrying = checking.has(client)
    ? (client.options.maxLoadingRetryTime ?? 10_000) + disconnecting
    : 0;
  if (status === "reconnecting" || status === "close" || status === "wait") {
    client.disconnect();
    if (status === "wait") return;
    await sleep(Math.max(disconnecting, retrying));
    return;
  }
  const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
  if (status === "ready" && quit) {
    try {
      await client.quit();
    } catch {
      client.disconnect();
    }
  } else client.disconnect();
  await ended;
  if (retrying > 0) await sleep(retrying);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The options both Redis backends take, checked (TypeError/RangeError naming the value). */
export function checkRedisOptions(url: unknown, prefix: unknown, maxRetryDelay: unknown): void {
  if (typeof url !== "string" || !/^rediss?:\/\//.test(url)) {
    throw new TypeError(`Invalid option url: ${showUrl(url)} is not a redis:// URL`);
  }
  if (typeof prefix !== "string") {
    throw new TypeError(`Invalid option prefix: ${showValue(prefix)} is not a string`);
  }
  if (typeof maxRetryDelay !== "number" || !Number.isFinite(maxRetryDelay) || maxRetryDelay < 0) {
    throw new RangeError(
      `Invalid option maxRetryDelay: ${showValue(maxRetryDelay)} is not a number of ms >= 0`,
    );
  }
}
