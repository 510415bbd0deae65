// The channels' side of pub/sub: each joined channel subscribes to its topic, on the
// fastlane (one encode per publish, whatever the number of subscribers) unless it intercepts
// events; broadcastFrom skips the sender.

import type { PublishResult, PubSub } from "../pubsub/pubsub.ts";
import { encodeBroadcast } from "./serializer.ts";

/** What channels publish on pub/sub: an event on a topic, as every subscriber receives it. */
export interface Broadcast {
  /** The topic. */
  readonly topic: string;
  /** The event name. */
  readonly event: string;
  /** A JSON value (a `Uint8Array` only in-process: backends encode with JSON). */
  readonly payload: unknown;
}

/** A joined channel, as a subscriber of its topic. */
export interface Member {
  readonly topic: string;
  readonly intercepts: boolean;
  readonly closed: boolean;
  subscribed: boolean;
  send(message: Broadcast): boolean;
  sendFrame(data: string | Uint8Array): boolean;
  onClose(listener: () => void): () => void;
}

// The sender of the broadcastFrom being delivered (local delivery is synchronous).
let sender: Member | undefined;

/** The channel a broadcastFrom is skipping right now. */
export function excluded(): Member | undefined {
  return sender;
}

// One function for every subscriber: PubSub encodes once per publish per function.
const encode = (b: Broadcast): string | Uint8Array => encodeBroadcast(b.topic, b.event, b.payload);
const FASTLANE = { encode };
const MAILBOX = {};

/** The pub/sub of one `channels()` app. */
export class Hub {
  readonly pubsub: PubSub<Broadcast>;

  constructor(pubsub: PubSub<Broadcast>) {
    this.pubsub = pubsub;
  }

  subscribe(member: Member): void {
    member.subscribed = true;
    this.pubsub.subscribe(member.topic, member, member.intercepts ? MAILBOX : FASTLANE);
  }

  unsubscribe(member: Member): void {
    member.subscribed = false;
    this.pubsub.unsubscribe(member.topic, member);
  }

  broadcast(
    topic: string,
    event: string,
    payload: unknown,
    from: Member | undefined,
  ): PublishResult {
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
}
