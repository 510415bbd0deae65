// The chat room: one topic, every connection subscribed; join, message and leave events go
// to every member through pub/sub. The backend decides how far "every" reaches.
import { type Connection, ok, push, stop, type WebSock } from "@websock/websock";
import type { PubSub } from "@websock/websock/pubsub";

/** What travels on the room's topic. */
export type ChatEvent =
  | { type: "join"; name: string; worker: string }
  | { type: "message"; name: string; text: string; worker: string }
  | { type: "leave"; name: string; worker: string };

/** What the upgrade hook hands to `init`: the member's name, or why they are refused. */
export type Join = { name: string } | { refused: string };

type State = { name: string; connection: Connection<ChatEvent>; joined: boolean };

const ROOM = "chat:lobby";
const NAME = /^[\p{L}\p{N}_.-]{1,24}$/u;

/** Close code of a refused join: the page shows the reason and does not reconnect. */
export const REFUSED = 4001;

/**
 * The name from `?name=`, used as the `upgrade` hook. A bad name is not refused with a 4xx:
 * a browser cannot read a refused upgrade's status or body (its WebSocket only sees 1006), so
 * the upgrade goes through and `init` closes with 4001 and a reason the page can show.
 */
export function joinRequest(request: Request): Join {
  const name = (new URL(request.url).searchParams.get("name") ?? "").trim();
  return NAME.test(name) ? { name } : {
    refused: "Names are 1 to 24 letters, digits, _ . or - (no spaces)",
  };
}

/** The chat handler over a pub/sub hub; `worker` names this process or worker. */
export function chat(pubsub: PubSub<ChatEvent>, worker: string): WebSock<State, ChatEvent, Join> {
  return {
    async init(join, connection) {
      if ("refused" in join) {
        const state = { name: "", connection, joined: false };
        return stop("normal", state, { code: REFUSED, reason: join.refused });
      }
      const { name } = join;
      // Wait for the backend: from here on messages of other nodes reach this member.
      await pubsub.subscribe(ROOM, connection);
      pubsub.publish(ROOM, { type: "join", name, worker });
      const state = { name, connection, joined: true };
      return push(JSON.stringify({ type: "welcome", name, worker }), state);
    },
    handleIn(data, state) {
      if (typeof data !== "string") {
        return stop("normal", state, { code: 1003, reason: "text only" });
      }
      const text = data.trim().slice(0, 500);
      if (text) pubsub.publish(ROOM, { type: "message", name: state.name, text, worker });
      return ok(state);
    },
    handleInfo: (event, state) => push(JSON.stringify(event), state),
    terminate(_reason, state) {
      if (!state.joined) return;
      pubsub.unsubscribe(ROOM, state.connection);
      pubsub.publish(ROOM, { type: "leave", name: state.name, worker });
    },
  };
}
