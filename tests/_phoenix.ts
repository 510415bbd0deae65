// The real `phoenix` client (npm, 1.8.x) in tests: a socket with short reconnect and rejoin
// times, promises for pushes and channel events, and a disconnect that waits until the
// client is done (its timers cleared, for the sanitizers).

import { Channel, Socket } from "npm:phoenix@1.8.16";

export { Channel, Socket };

/** What a push ended with: its status and the response (or "timeout"). */
export interface Outcome {
  readonly status: string;
  readonly response: unknown;
}

/** A phoenix Socket for tests: fast reconnects and rejoins, a short push timeout. */
export function phoenixSocket(
  url: string,
  options: Record<string, unknown> = {},
): Socket {
  return new Socket(url, {
    timeout: 5_000,
    reconnectAfterMs: () => 20,
    rejoinAfterMs: () => 20,
    ...options,
  });
}

/** Wait for a push (a join, a leave, a channel push) to get ok, error or timeout. */
export function outcome(
  push: { receive(status: string, cb: (r: unknown) => void): unknown },
): Promise<Outcome> {
  return new Promise((resolve) => {
    for (const status of ["ok", "error", "timeout"]) {
      push.receive(status, (response: unknown) => resolve({ status, response }));
    }
  });
}

/** Wait for the next `event` on a channel (rejects after a generous 20 s). */
export function nextEvent(channel: Channel, event: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      channel.off(event, ref);
      reject(new Error(`Timed out waiting for ${event} on ${channel.topic}`));
    }, 20_000);
    const ref = channel.on(event, (payload: unknown) => {
      clearTimeout(timer);
      channel.off(event, ref);
      resolve(payload);
    });
  });
}

/** Disconnect and wait until the client has torn the connection down. */
export function disconnect(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.disconnect(() => resolve(), 1000, "done"));
}

/** Poll `condition` (bounded: by turns of the event loop with a short sleep). */
export async function until(condition: () => boolean, what: string, rounds = 2_000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out waiting for ${what}`);
}
