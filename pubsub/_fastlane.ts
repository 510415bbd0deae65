// The fastlane's pieces: a subscription that takes frames, the subscribers of a topic that
// share a server's native topics, and one publish's encoded frames.

import type { NativeHub, NativeTopics } from "../engine/topics.ts";
import { showValue } from "../engine/show_value.ts";

export type Encode<M> = (message: M) => string | Uint8Array;

// A fastlane subscription whose subscriber's server has native topics.
export interface NativeLane<M> {
  readonly encode: Encode<M>;
  readonly native: NativeTopics;
  readonly group: NativeGroup<M>;
}

// How a subscriber takes a topic: through its mailbox (undefined), as frames (its encode
// function: one pointer, nothing more to read per publish), or through native topics.
export type Lane<M> = undefined | Encode<M> | NativeLane<M>;

export function encodeOf<M>(lane: Lane<M>): Encode<M> | undefined {
  return typeof lane === "function" ? lane : lane?.encode;
}

// The subscribers of one topic, on one server with native topics, sharing one encode.
export interface NativeGroup<M> {
  readonly hub: NativeHub;
  readonly encode: Encode<M>;
  readonly name: string;
  members: number;
  ready: number;
}

// One publish's frames: each encode function runs once; a failure is reported once.
export class Frames<M> {
  readonly #message: M;
  readonly #onError: (error: unknown) => void;
  #encode: Encode<M> | undefined = undefined;
  #data: string | Uint8Array | undefined = undefined;
  #more: Map<Encode<M>, string | Uint8Array | undefined> | undefined = undefined;

  constructor(message: M, onError: (error: unknown) => void) {
    this.#message = message;
    this.#onError = onError;
  }

  of(encode: Encode<M>): string | Uint8Array | undefined {
    if (encode === this.#encode) return this.#data;
    if (this.#encode === undefined) {
      this.#encode = encode;
      return this.#data = this.#run(encode);
    }
    const more = this.#more ??= new Map();
    if (!more.has(encode)) more.set(encode, this.#run(encode));
    return more.get(encode);
  }

  #run(encode: Encode<M>): string | Uint8Array | undefined {
    try {
      const data = encode(this.#message);
      if (typeof data === "string" || data instanceof Uint8Array) return data;
      throw new TypeError(
        `Cannot publish: encode returned ${showValue(data)}, not a string or a Uint8Array`,
      );
    } catch (error) {
      this.#onError(error);
      return undefined;
    }
  }
}

export function checkEncode(
  topic: string,
  encode: unknown,
  subscriber: { sendFrame?: unknown },
): void {
  if (typeof encode !== "function") {
    throw new TypeError(`Invalid option encode: ${showValue(encode)} is not a function`);
  }
  if (typeof subscriber.sendFrame !== "function") {
    throw new TypeError(
      `Cannot subscribe to ${topic} with encode: subscriber ${
        showValue(subscriber)
      } has no sendFrame() (pass a connection)`,
    );
  }
}
