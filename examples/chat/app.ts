// The chat room: one topic, every connection subscribed; join, message and leave events go
// to every member through pub/sub. The backend decides how far "every" reaches. With a
// history (HistoryPubSub), every event carries its position: a page that reconnects sends
// the last one it showed and first gets what it missed.
import { type Connection, ok, push, stop, type WebSock } from "@websock/websock";
import {
  type Delivery,
  HistoryPubSub,
  isPosition,
  type Position,
  type PubSub,
} from "@websock/websock/pubsub";

/** What travels on the room's topic. */
export type ChatEvent =
  | { type: "join"; name: string; worker: string }
  | { type: "message"; name: string; text: string; worker: string }
  | { type: "leave"; name: string; worker: string };

/** The room's hub: with a history (a page that reconnects gets what it missed) or without. */
export type Room = HistoryPubSub<ChatEvent> | PubSub<ChatEvent>;

/**
 * What the upgrade hook hands to `init`: the member's name and the last position its page
 * showed (when it reconnects), or why they are refused.
 */
export type Join = { name: string; since?: Position } | { refused: string };

/** A line the room could not store (Redis unreachable): told to its sender only. */
type Unsent = { type: "unsent"; text: string };
type Mail = ChatEvent | Delivery<ChatEvent> | Unsent;
type State = { name: string; connection: Connection<Mail>; joined: boolean };

const ROOM = "chat:lobby";
const NAME = /^[\p{L}\p{N}_.-]{1,24}$/u;

/** Close code of a refused join: the page shows the reason and does not reconnect. */
export const REFUSED = 4001;

/**
 * The name from `?name=` and the position from `?epoch=&offset=`, used as the `upgrade` hook.
 * A bad name is not refused with a 4xx: a browser cannot read a refused upgrade's status or
 * body (its WebSocket only sees 1006), so the upgrade goes through and `init` closes with 4001
 * and a reason the page can show. A bad position is ignored (the page gets live events only).
 */
export function joinRequest(request: Request): Join {
  const params = new URL(request.url).searchParams;
  const name = (params.get("name") ?? "").trim();
  if (!NAME.test(name)) {
    return { refused: "Names are 1 to 24 letters, digits, _ . or - (no spaces)" };
  }
  const since = { epoch: params.get("epoch"), offset: Number(params.get("offset") ?? "") };
  return isPosition(since) ? { name, since } : { name };
}

/** What the page receives for a mailbox message: the event, with its position if it has one. */
function forPage(mail: Mail): string {
  if (mail.type === "gap") {
    return JSON.stringify({ type: "gap", missed: mail.missed, position: mail.position });
  }
  if ("position" in mail) return JSON.stringify({ ...mail.message, position: mail.position });
  return JSON.stringify(mail);
}

/** The chat handler over a room; `worker` names this process or worker. */
export function chat(pubsub: Room, worker: string): WebSock<State, Mail, Join> {
  return {
    async init(join, connection) {
      if ("refused" in join) {
        const state = { name: "", connection, joined: false };
        return stop("normal", state, { code: REFUSED, reason: join.refused });
      }
      const { name, since } = join;
      if (pubsub instanceof HistoryPubSub) {
        // What the page missed after `since`, then live. Not awaited: the catch-up reaches
        // handleInfo only once init has returned.
        pubsub.subscribe(ROOM, connection, since ? { since } : {});
      } else {
        // Wait for the backend: from here on messages of other nodes reach this member.
        await pubsub.subscribe(ROOM, connection);
      }
      pubsub.publish(ROOM, { type: "join", name, worker });
      const state = { name, connection, joined: true };
      return push(JSON.stringify({ type: "welcome", name, worker }), state);
    },
    handleIn(data, state) {
      if (typeof data !== "string") {
        return stop("normal", state, { code: 1003, reason: "text only" });
      }
      const text = data.trim().slice(0, 500);
      if (!text) return ok(state);
      const sent = pubsub.publish(ROOM, { type: "message", name: state.name, text, worker });
      // With a history, a line that could not be stored fails visibly: its sender is told.
      if (sent instanceof Promise) {
        sent.catch(() => state.connection.send({ type: "unsent", text }));
      }
      return ok(state);
    },
    handleInfo: (mail, state) => push(forPage(mail), state),
    terminate(_reason, state) {
      if (!state.joined) return;
      pubsub.unsubscribe(ROOM, state.connection);
      pubsub.publish(ROOM, { type: "leave", name: state.name, worker });
    },
  };
}
