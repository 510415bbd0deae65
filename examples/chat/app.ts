// The chat app: Phoenix channels, one topic per room ("room:<name>"), a presence per room and
// the room's messages on a pub/sub with a history.
//
// - connect: params `name` and `session` (a page's id, shared by its tabs). Any name connects;
//   the join of a room checks it, so that the page can show the reason (a browser cannot read a
//   refused upgrade).
// - join "room:<name>": refused for a bad name or room, and for a name online in that room from
//   another session (the same session in another tab is the same user: shown once). Tracks the
//   user, pushes `presence_state`; with a history the join's `since` replays what came after it.
// - "message" `{ text }`: broadcast to the room as `{ name, text, at }` (ms since the epoch).
import {
  type Broadcast,
  type Channel,
  type Channels,
  channels,
  type ChannelSocket,
  joined,
  noreply,
  refused,
  reply,
} from "@websock/websock/channels";
import type { HistoryPubSub, PubSub } from "@websock/websock/pubsub";
import { Presence, type PresenceBroadcast } from "@websock/websock/presence";

/** The socket's assigns: who connected, from which page session. */
export interface User {
  readonly name: string;
  readonly session: string;
}

type Room = { socket: ChannelSocket<never, User>; topic: string };

const NAME = /^[\p{L}\p{N}_.-]{1,24}$/u;
const ROOM = /^room:[a-z0-9-]{1,24}$/;

/** Why a join with a bad name is refused. */
export const BAD_NAME = "Names are 1 to 24 letters, digits, _ . or - (no spaces)";

/** Why a join of a name online elsewhere is refused. */
export const taken = (name: string): string =>
  `The name ${name} is already online in this room: choose another`;

/**
 * The presence diffs of this node, pushed to this node's sockets of the topic: the messages'
 * pub/sub may keep a history, which must not store (or replay) them.
 */
class LocalDiffs {
  readonly #rooms = new Map<string, Set<ChannelSocket<never, User>>>();
  add(topic: string, socket: ChannelSocket<never, User>): void {
    let room = this.#rooms.get(topic);
    if (!room) this.#rooms.set(topic, room = new Set());
    room.add(socket);
    socket.onClose(() => {
      room.delete(socket);
      if (room.size === 0 && this.#rooms.get(topic) === room) this.#rooms.delete(topic);
    });
  }
  subscribe(): void {}
  unsubscribe(): void {}
  publish(topic: string, message: unknown): void {
    const { event, payload } = message as PresenceBroadcast;
    for (const socket of this.#rooms.get(topic) ?? []) socket.push(event, payload);
  }
}

/**
 * The chat over `pubsub` (the rooms' messages, with or without a history) and `replicas`
 * (where the nodes' presence trackers talk); `node` names this process or worker;
 * `heartbeatTimeout` closes a socket silent that long (the channels' default: 60 s).
 */
export function chatApp(
  pubsub: HistoryPubSub<Broadcast> | PubSub<Broadcast>,
  replicas: PubSub<unknown>,
  node: string,
  heartbeatTimeout?: number,
): { app: Channels<User>; presence: Presence } {
  const diffs = new LocalDiffs();
  const presence = new Presence({ pubsub: diffs }, { pubsub: replicas, name: node });
  const RoomChannel = {
    join(topic, _payload, socket) {
      const { name, session } = socket.assigns;
      if (!NAME.test(name)) return refused(BAD_NAME);
      if (!ROOM.test(topic)) return refused("Rooms are 1 to 24 letters a-z, digits or -");
      const metas = presence.list(topic)[name]?.metas ?? [];
      if (metas.some((meta) => meta.session !== session)) return refused(taken(name));
      diffs.add(topic, socket);
      presence.track(socket, topic, name, { session, node, online_at: Date.now() });
      socket.push("presence_state", presence.list(topic));
      return joined({ socket, topic });
    },
    handleIn(event, payload, state) {
      if (event !== "message") return noreply(state);
      const text = String((payload as { text?: unknown } | null)?.text ?? "").trim().slice(0, 500);
      if (!text) return reply("error", { reason: "empty message" }, state);
      state.socket.broadcast("message", { name: state.socket.assigns.name, text, at: Date.now() });
      return reply("ok", {}, state);
    },
  } satisfies Channel<Room, never, User>;
  const app = channels<User>({ "room:*": RoomChannel }, {
    pubsub,
    heartbeatTimeout,
    connect: (params) => ({
      name: String(params.name ?? "").trim(),
      session: String(params.session ?? ""),
    }),
  });
  return { app, presence };
}
