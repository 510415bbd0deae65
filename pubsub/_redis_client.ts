// What the Redis backends share about ioredis clients.

import type { Redis } from "npm:ioredis@^5.4.1";
import { showValue } from "../engine/show_value.ts";

/** How long ioredis waits for a socket to close after `disconnect()` before destroying it. */
export const DISCONNECT_TIMEOUT = 100;

/**
 * Close an ioredis client and wait until its socket is gone. A client that is waiting to
 * reconnect (Redis down) only needs its timer cleared: `disconnect()` does that, and no
 * `end` event follows, so none is awaited (waiting for it would hang forever). ioredis then
 * leaves a `disconnectTimeout` timer running, which is waited for instead (bounded).
 * `quit: false` disconnects a ready client too (a reader blocked in XREAD: QUIT would wait
 * behind it).
 */
export async function closeClient(client: Redis, { quit = true } = {}): Promise<void> {
  const status = client.status;
  if (status === "end") return;
  if (status === "reconnecting" || status === "close" || status === "wait") {
    client.disconnect();
    if (status === "wait") return;
    const wait = (client.options.disconnectTimeout ?? 2000) + 20;
    await new Promise((resolve) => setTimeout(resolve, wait));
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
}

/** The URL with its password (or a lone user part, which Redis takes as one) as ***. */
export function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_all, auth: string) => {
    const colon = auth.indexOf(":");
    return colon < 0 ? "//***@" : `//${auth.slice(0, colon)}:***@`;
  });
}

/** The options both Redis backends take, checked (TypeError/RangeError naming the value). */
export function checkRedisOptions(url: unknown, prefix: unknown, maxRetryDelay: unknown): void {
  if (typeof url !== "string" || !/^rediss?:\/\//.test(url)) {
    throw new TypeError(`Invalid option url: ${JSON.stringify(url)} is not a redis:// URL`);
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
