// A pub/sub Backend over a BroadcastChannel: the workers of `deno serve --parallel`.

import type { Backend } from "./pubsub.ts";
import { showValue } from "../engine/show_value.ts";
import { checkHubOptions } from "./_checks.ts";

/** Options of {@linkcode BroadcastChannelBackend}. */
export interface BroadcastChannelBackendOptions {
  /**
   * The channel's name: every node with the same name shares the topics.
   * @default {"websock-pubsub"}
   */
  name?: string;
}

// Every name of BroadcastChannelBackendOptions, for checkHubOptions (the compiler says if one is missing).
const OPTION_NAMES = Object.keys(
  { name: 0 } satisfies Record<keyof BroadcastChannelBackendOptions, 0>,
);

/**
 * A {@linkcode Backend} over a `BroadcastChannel`: joins the workers of
 * `deno serve --parallel` (and the workers of one process in general). Messages must be
 * structured-cloneable. Every node receives every message and keeps those of its topics.
 *
 * @example Share topics between the workers of `deno serve --parallel`
 * ```ts
 * import assert from "node:assert/strict";
 * import { BroadcastChannelBackend, PubSub } from "@websock/websock/pubsub";
 *
 * const pubsub = new PubSub<string>({ backend: new BroadcastChannelBackend({ name: "chat" }) });
 * const here: string[] = [];
 * await pubsub.subscribe("lobby", { send: (m) => here.push(m) > 0 });
 * // This worker's subscribers now, every other worker's through the channel.
 * assert.deepEqual(pubsub.publish("lobby", "hello"), { delivered: 1, dropped: 0 });
 * assert.deepEqual(here, ["hello"]);
 * await pubsub.close();
 * ```
 */
export class BroadcastChannelBackend implements Backend {
  readonly #name: string;
  #channel: BroadcastChannel | undefined;

  /**
   * Make the backend; the channel opens when the `PubSub` starts it.
   *
   * @param options The channel name.
   */
  constructor(options: BroadcastChannelBackendOptions = {}) {
    checkHubOptions(options, "BroadcastChannelBackend", OPTION_NAMES);
    const { name = "websock-pubsub" } = options;
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`Invalid option name: ${showValue(name)} is not a channel name`);
    }
    this.#name = name;
  }

  /**
   * Open the channel.
   *
   * @param deliver Where received messages go.
   * @param onError Where undecodable messages are reported.
   */
  start(
    deliver: (topic: string, message: unknown) => void,
    onError: (error: unknown) => void,
  ): void {
    const channel = new BroadcastChannel(this.#name);
    channel.onmessage = (event: MessageEvent) => {
      const data = event.data as { topic?: unknown; message?: unknown } | null;
      if (data === null || typeof data !== "object" || typeof data.topic !== "string") return;
      deliver(data.topic, data.message);
    };
    channel.onmessageerror = () => {
      onError(new TypeError(`Cannot receive on BroadcastChannel ${this.#name}: bad message`));
    };
    this.#channel = channel;
  }

  /** Nothing to do: every node receives every topic. */
  subscribe(): void {}

  /** Nothing to do: every node receives every topic. */
  unsubscribe(): void {}

  /**
   * Post a message to the other nodes.
   *
   * @param topic The topic.
   * @param message The message (structured-cloneable).
   */
  publish(topic: string, message: unknown): void {
    if (!this.#channel) throw new TypeError(`Cannot publish to ${topic}: backend not started`);
    this.#channel.postMessage({ topic, message });
  }

  /** Close the channel. */
  close(): void {
    this.#channel?.close();
    this.#channel = undefined;
  }
}
