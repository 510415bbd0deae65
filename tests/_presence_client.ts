// A client of the presence tests: the real `phoenix` client's Socket, a channel joined to a
// room and its Presence, with what the Presence's onSync listed, and who joined and left.

import assert from "node:assert/strict";
import { Presence as ClientPresence } from "npm:phoenix@1.8.16";
import { outcome, phoenixSocket, type Socket } from "./_phoenix.ts";

export type Listed = Record<string, { metas: Record<string, unknown>[] }>;

/** A client in a room: its socket, channel and phoenix Presence, and what onSync listed. */
export async function client(url: string, user: string, tab: string, topic = "room:lobby") {
  const socket: Socket = phoenixSocket(url, { params: { user } });
  socket.connect();
  const channel = socket.channel(topic, { tab });
  const presence = new ClientPresence(channel);
  const seen = {
    list: {} as Listed,
    joins: [] as string[],
    leaves: [] as string[],
    // The most metas each key ever had at once.
    most: {} as Record<string, number>,
  };
  presence.onSync(() => {
    seen.list = Object.fromEntries(
      presence.list((key: string, p: { metas: Record<string, unknown>[] }) => [key, p]),
    );
    for (const [key, p] of Object.entries(seen.list)) {
      seen.most[key] = Math.max(seen.most[key] ?? 0, p.metas.length);
    }
  });
  presence.onJoin((key: string, current: unknown) => {
    if (!current) seen.joins.push(key);
  });
  presence.onLeave((key: string, current: { metas: unknown[] }) => {
    if (current.metas.length === 0) seen.leaves.push(key);
  });
  assert.equal((await outcome(channel.join())).status, "ok");
  return { socket, channel, seen };
}

export const tabs = (list: Listed): Record<string, unknown[]> =>
  Object.fromEntries(
    Object.entries(list).sort(([a], [b]) => a < b ? -1 : 1)
      .map(([key, p]) => [key, p.metas.map((m) => m.tab).sort()]),
  );
