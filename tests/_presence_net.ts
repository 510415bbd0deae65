// A simulated network between trackers of one process: each node has an endpoint (a
// PresencePubSub); what a node publishes is queued for every other subscribed node as JSON
// (what Redis would carry) and delivered when the test says, in order or not, with losses,
// duplicates and partitions as the test chooses.

import type { PresencePubSub } from "../presence/mod.ts";

type Inbox = { send(message: unknown): boolean };

interface Packet {
  readonly from: string;
  readonly to: string;
  readonly json: string;
}

export class Net {
  readonly #inboxes = new Map<string, Inbox>();
  /** Packets sent and not delivered yet. */
  queue: Packet[] = [];
  /** Nodes cut off: what they send and what is sent to them is lost. */
  readonly cut = new Set<string>();
  /** Bytes (JSON) and messages each node published, by message type. */
  readonly sent = new Map<string, { messages: number; bytes: number }>();
  /** Deliver at once (synchronously, in order) instead of queuing. */
  auto = false;

  /** The endpoint of node `name`. */
  endpoint(name: string): PresencePubSub {
    return {
      subscribe: (_topic, inbox) => {
        this.#inboxes.set(name, inbox);
      },
      unsubscribe: (_topic, inbox) => {
        if (this.#inboxes.get(name) === inbox) this.#inboxes.delete(name);
      },
      publish: (_topic, message) => {
        const json = JSON.stringify(message);
        const type = (message as { t: string }).t;
        const count = this.sent.get(type) ?? { messages: 0, bytes: 0 };
        this.sent.set(type, { messages: count.messages + 1, bytes: count.bytes + json.length });
        if (this.cut.has(name)) return;
        for (const to of this.#inboxes.keys()) {
          if (to !== name) this.queue.push({ from: name, to, json });
        }
        if (this.auto) this.deliver();
      },
    };
  }

  #hand(packet: Packet): void {
    if (this.cut.has(packet.to) || this.cut.has(packet.from)) return;
    this.#inboxes.get(packet.to)?.send(JSON.parse(packet.json));
  }

  /** Deliver everything queued, in order (and what that makes the nodes send). */
  deliver(): void {
    for (let i = 0; i < 100_000 && this.queue.length > 0; i++) this.#hand(this.queue.shift()!);
  }

  /**
   * Deliver what is queued now in a random order, losing some, doubling some (random in
   * [0, 1) from `random`).
   */
  shuffle(random: () => number, { loss = 0, dup = 0 } = {}): void {
    const batch = this.queue;
    this.queue = [];
    for (let i = batch.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [batch[i], batch[j]] = [batch[j], batch[i]];
    }
    for (const packet of batch) {
      if (random() < loss) continue;
      this.#hand(packet);
      if (random() < dup) this.queue.push(packet);
    }
  }

  /** Forget the counts of what was sent. */
  resetCounts(): void {
    this.sent.clear();
  }
}
