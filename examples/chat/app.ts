// The chat room: one topic, every connection subscribed; join, message and leave events go
// to every member through pub/sub. The backend decides how far "every" reaches.
import { type Connection, ok, push, stop, type WebSock } from "@websock/websock";
import type { PubSub } from "@websock/websock/pubsub";

/** What travels on the room's topic. */
export type ChatEvent =
  | { type: "join"; name: string; worker: string }
  | { type: "message"; name: string; text: string; worker: string }
  | { type: "leave"; name: string; worker: string };

type State = { name: string; connection: Connection<ChatEvent> };

const ROOM = "chat:lobby";
const NAME = /^[\p{L}\p{N}_.-]{1,24}$/u;

/** The user name from `?name=`, or a 400. Used as the `upgrade` hook. */
export function userName(request: Request): string | Response {
  const name = new URL(request.url).searchParams.get("name") ?? "";
  if (!NAME.test(name)) {
    return new Response("Bad name: 1-24 letters, digits, _ . -\n", { status: 400 });
  }
  return name;
}

/** The chat handler over a pub/sub hub; `worker` names this process or worker. */
export function chat(pubsub: PubSub<ChatEvent>, worker: string): WebSock<State, ChatEvent, string> {
  return {
    async init(name, connection) {
      // Wait for the backend: from here on messages of other nodes reach this member.
      await pubsub.subscribe(ROOM, connection);
      pubsub.publish(ROOM, { type: "join", name, worker });
      return push(JSON.stringify({ type: "welcome", name, worker }), { name, connection });
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
      pubsub.unsubscribe(ROOM, state.connection);
      pubsub.publish(ROOM, { type: "leave", name: state.name, worker });
    },
  };
}
