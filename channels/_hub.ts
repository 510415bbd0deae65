// The channels' side of pub/sub: each joined channel subscribes to its topic. On a PubSub,
// through the fastlane (one encode per publish, whatever the number of subscribers) unless
// it intercepts events; on a HistoryPubSub, with the position of each message in the frame's
// ref, resuming from the position a join carries. broadcastFrom skips the sender.

import type { PublishResult, PubSub } from "../pubsub/pubsub.ts";
import { HistoryPubSub } from "../pubsub/history.ts";
import { type Delivery, isPosition, type Position } from "../pubsub/history_backend.ts";
import { encodeBroadcast } from "./serializer.ts";

/** What channels publish on pub/sub: an event on a topic, as every subscriber receives it. */
export interface Broadcast {
  /** The topic. */
  readonly topic: string;
  /** The event name. */
  readonly event: string;
  /** A JSON value (a `Uint8Array` only in-process: backends encode with JSON). */
  readonly payload: unknown;
  /** The channel a `broadcastFrom` skips (on a HistoryPubSub), or none. */
  readonly from?: string;
}

/** A joined channel, as a subscriber of its topic. */
export interface Member {
  readonly topic: string;
  readonly closed: boolean;
  subscribed: boolean;
  /** Its id in `Broadcast.from`, made on its first broadcastFrom. */
  uid: string | undefined;
  /** Whether broadcasts of this event go to its handleOut. */
  intercepts(event: string): boolean;
  /** Hand an intercepted broadcast to the channel (through its socket's mailbox). */
  out(message: Broadcast): boolean;
  /** Send a frame to the channel's client. */
  emit(frame: string | Uint8Array): boolean;
  send(message: unknown): boolean;
  sendFrame(data: string | Uint8Array): boolean;
  onClose(listener: () => void): () => void;
}

// The sender of the broadcastFrom being delivered (a PubSub's local delivery is synchronous).
let sender: Member | undefined;

/** The channel a broadcastFrom is skipping right now. */
export function excluded(): Member | undefined {
  return sender;
}

// One function for every subscriber: PubSub encodes once per publish per function.
const encode = (b: Broadcast): string | Uint8Array => encodeBroadcast(b.topic, b.event, b.payload);
const FASTLANE = { encode };
const MAILBOX = {};
const NONE: PublishResult = Object.freeze({ delivered: 0, dropped: 0 });

/** The ref a history message's frame carries: `"<epoch>:<offset>"`. */
export function positionRef(position: Position): string {
  return `${position.epoch}:${position.offset}`;
}

/** A join payload's `since`: a position, or the ref of a history message's frame. */
export function sinceOf(payload: unknown): Position | undefined {
  const since = (payload as { since?: unknown } | null)?.since;
  if (isPosition(since)) return since;
  if (typeof since !== "string") return undefined;
  const colon = since.lastIndexOf(":");
  const position = { epoch: since.slice(0, colon), offset: Number(since.slice(colon + 1)) };
  return colon > 0 && isPosition(position) ? position : undefined;
}

let uids = 0;

// The last history delivery encoded: HistoryPubSub hands one object to every subscriber.
let lastDelivery: unknown;
let lastFrame: string | Uint8Array = "";

/** The pub/sub of one `channels()` app. */
export class Hub {
  readonly pubsub: PubSub<Broadcast> | HistoryPubSub<Broadcast>;
  readonly history: boolean;

  constructor(pubsub: PubSub<Broadcast> | HistoryPubSub<Broadcast>) {
    this.pubsub = pubsub;
    this.history = pubsub instanceof HistoryPubSub;
  }

  subscribe(member: Member, joinPayload: unknown, intercepts: boolean): void {
    member.subscribed = true;
    if (this.pubsub instanceof HistoryPubSub) {
      const since = sinceOf(joinPayload);
      this.pubsub.subscribe(member.topic, member, since === undefined ? {} : { since });
    } else this.pubsub.subscribe(member.topic, member, intercepts ? MAILBOX : FASTLANE);
  }

  unsubscribe(member: Member): void {
    member.subscribed = false;
    (this.pubsub as PubSub<Broadcast>).unsubscribe(member.topic, member);
  }

  broadcast(
    topic: string,
    event: string,
    payload: unknown,
    from: Member | undefined,
  ): PublishResult {
    if (this.pubsub instanceof HistoryPubSub) {
      const uid = from === undefined ? undefined : (from.uid ??= `${++uids}`);
      this.pubsub.publish(
        topic,
        uid === undefined ? { topic, event, payload } : { topic, event, payload, from: uid },
      );
      return NONE;
    }
    const message: Broadcast = { topic, event, payload };
    if (from === undefined) return this.pubsub.publish(topic, message);
    const outer = sender;
    sender = from;
    try {
      const result = this.pubsub.publish(topic, message);
      return from.subscribed
        ? { delivered: result.delivered - 1, dropped: result.dropped }
        : result;
    } finally {
      sender = outer;
    }
  }

  /** What a member's `send` got: a Broadcast (PubSub) or a Delivery (HistoryPubSub). */
  receive(member: Member, received: unknown): boolean {
    if (!this.history) {
      const b = received as Broadcast;
      if (sender === member) return true;
      if (member.intercepts(b.event)) return member.out(b);
      return member.emit(encodeBroadcast(b.topic, b.event, b.payload));
    }
    const d = received as Delivery<Broadcast>;
    if (d.type === "gap") {
      const { after, position, missed } = d;
      const gap = { after, position, missed: missed ?? null };
      return member.emit(
        JSON.stringify([null, positionRef(position), d.topic, "history_gap", gap]),
      );
    }
    const b = d.message;
    if (b.from !== undefined && b.from === member.uid) return true;
    if (member.intercepts(b.event)) return member.out(b);
    if (d !== lastDelivery) {
      lastFrame = b.payload instanceof Uint8Array
        ? encodeBroadcast(b.topic, b.event, b.payload)
        : JSON.stringify([null, positionRef(d.position), b.topic, b.event, b.payload ?? null]);
      lastDelivery = d;
    }
    return member.emit(lastFrame);
  }
}
