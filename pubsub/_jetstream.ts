// The JetStream side of the JetStream history backend: names, epochs, making a topic's
// stream, reading a range of it; what the backend keeps per topic.

import type { Subscription } from "npm:@nats-io/transport-node@^3.4.0";
import type { JetStreamManager, StreamConfig, StreamInfo } from "npm:@nats-io/jetstream@^3.4.0";
import type { HistoryMessage } from "./history_backend.ts";
import { checkInteger as checkCount } from "../engine/check_integer.ts";
import { showValue } from "../engine/show_value.ts";
import { checkHubOptions } from "./_checks.ts";
import { checkNatsPrefix, type NatsTarget, parseNatsUrl, topicToken } from "./_nats.ts";

/** Options of `JetStreamBackend`. */
export interface JetStreamBackendOptions {
  /**
   * The server: `nats://[user:password@|token@]host:port` (`tls://` for TLS), or a list of
   * them for a cluster (the first one with credentials gives them). JetStream must be on.
   * @default {"nats://127.0.0.1:4222"}
   */
  url?: string | readonly string[];
  /**
   * Starts every stream name and subject (see the module doc): letters, digits, `-`, `_`.
   * @default {"websock"}
   */
  prefix?: string;
  /**
   * How many messages each topic keeps (the stream's `max_msgs`; exact).
   * @default {1000}
   */
  maxLength?: number;
  /**
   * How long a message is kept, in ms (the stream's `max_age`, by the server's clock); `0`
   * keeps messages until `maxLength` pushes them out.
   * @default {300000}
   */
  maxAge?: number;
  /**
   * Where the streams are stored: `"file"` survives a server restart, `"memory"` does not.
   * @default {"file"}
   */
  storage?: "file" | "memory";
  /**
   * Replicas of each stream, on a JetStream cluster (1 to 5).
   * @default {1}
   */
  replicas?: number;
  /**
   * Longest wait between reconnection attempts, in ms.
   * @default {2000}
   */
  maxRetryDelay?: number;
}

// Every name of JetStreamBackendOptions, for checkHubOptions (the compiler says if one is missing).
const OPTION_NAMES = Object.keys(
  {
    url: 0,
    prefix: 0,
    maxLength: 0,
    maxAge: 0,
    storage: 0,
    replicas: 0,
    maxRetryDelay: 0,
  } satisfies Record<keyof JetStreamBackendOptions, 0>,
);

/** The options, checked (TypeError/RangeError naming the value), with their defaults. */
export function checkJetStreamOptions(options: JetStreamBackendOptions): {
  target: NatsTarget;
  prefix: string;
  limits: StreamLimits;
  maxRetryDelay: number;
} {
  checkHubOptions(options, "JetStreamBackend", OPTION_NAMES);
  const {
    url = "nats://127.0.0.1:4222",
    prefix = "websock",
    maxLength = 1000,
    maxAge = 300_000,
    storage = "file",
    replicas = 1,
    maxRetryDelay = 2000,
  } = options;
  const target = parseNatsUrl(url);
  const names = checkNatsPrefix(prefix);
  const length = checkCount("maxLength", maxLength, 1);
  const age = checkCount("maxAge", maxAge, 0);
  if (storage !== "file" && storage !== "memory") {
    throw new TypeError(
      `Invalid option storage: ${showValue(storage)} is not "file" or "memory"`,
    );
  }
  const copies = checkCount("replicas", replicas, 1);
  if (copies > 5) {
    throw new RangeError(`Invalid option replicas: ${replicas} is not an integer from 1 to 5`);
  }
  return {
    target,
    prefix: names,
    limits: { maxLength: length, maxAge: age, storage, replicas: copies },
    maxRetryDelay: checkCount("maxRetryDelay", maxRetryDelay, 0),
  };
}

/** What this node knows of a topic it publishes to. */
export interface Published {
  /** Resolves once the stream is known (made if need be); publishes wait for it. */
  ready: Promise<void>;
  epoch: string;
  /** The highest sequence seen. */
  seq: number;
}

/** What this node knows of one topic it subscribes to. */
export interface Feed {
  readonly topic: string;
  readonly stream: string;
  sub: Subscription | undefined;
  /** The epoch of what it delivered ('' until known). */
  epoch: string;
  /** The sequence delivered up to; undefined until the subscription knows the head. */
  last: number | undefined;
  /** Live messages that wait for a catch-up: [sequence, data]. */
  held: [number, Uint8Array][];
  syncing: boolean;
  again: boolean;
  /** When it last had a live message. */
  heard: number;
}

/** A topic's stream, the subject it stores, and the subject it republishes to. */
export interface StreamNames {
  readonly stream: string;
  readonly subject: string;
  readonly live: string;
}

/** The names of a topic's stream and subjects. */
export function streamNames(prefix: string, topic: string): StreamNames {
  const token = topicToken(topic);
  return {
    stream: `${prefix}_${token}`,
    subject: `${prefix}.h.${token}`,
    live: `${prefix}.hl.${token}`,
  };
}

/** A stream's epoch: its creation time, as base-36 digits. */
export function epochOf(info: StreamInfo): string {
  return BigInt(info.created.replace(/\D/g, "")).toString(36);
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: number })?.code === 10059 ||
    (error as Error)?.name === "StreamNotFoundError";
}

/** A request nobody answered: no stream on that subject (or JetStream is off). */
export function noStream(error: unknown): boolean {
  return (error as Error)?.name === "JetStreamNotEnabled" ||
    (error as { isNoResponders?: () => boolean })?.isNoResponders?.() === true;
}

/** The limits a topic's stream is made with. */
export interface StreamLimits {
  readonly maxLength: number;
  /** In ms; 0 for none. */
  readonly maxAge: number;
  readonly storage: "file" | "memory";
  readonly replicas: number;
}

/**
 * The topic's stream, made when it has none: trimmed to `max_msgs` and `max_age`, with
 * direct gets, republishing every stored message (with its sequence) to the live subject.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  { stream, subject, live }: StreamNames,
  limits: StreamLimits,
): Promise<StreamInfo> {
  try {
    return await jsm.streams.info(stream);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const config = {
    name: stream,
    subjects: [subject],
    max_msgs: limits.maxLength,
    max_age: limits.maxAge * 1_000_000,
    storage: limits.storage,
    num_replicas: limits.replicas,
    discard: "old",
    allow_direct: true,
    republish: { src: subject, dest: live },
  } as Partial<StreamConfig> & { name: string };
  try {
    return await jsm.streams.add(config);
  } catch (error) {
    // Made meanwhile by another node (with other limits, maybe): take it as it is.
    if ((error as { code?: number })?.code === 10058) return await jsm.streams.info(stream);
    throw error;
  }
}

/** The stored messages `from`..`to` that the stream still holds, oldest first. */
export async function readRange(
  jsm: JetStreamManager,
  stream: string,
  from: number,
  to: number,
): Promise<[number, Uint8Array][]> {
  const seqs = Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
  const got = await Promise.all(seqs.map((seq) => jsm.direct.getMessage(stream, { seq })));
  const out: [number, Uint8Array][] = [];
  for (const msg of got) if (msg) out.push([msg.seq, msg.data]);
  return out;
}

const decoder = new TextDecoder();

/** A stored message as the hub delivers it, or the error saying it is not JSON. */
export function decodeEntry(
  topic: string,
  epoch: string,
  seq: number,
  data: Uint8Array,
): HistoryMessage<unknown> | TypeError {
  try {
    const message = JSON.parse(decoder.decode(data));
    return { type: "message", topic, position: { epoch, offset: seq }, message };
  } catch (error) {
    return new TypeError(`Cannot decode the JetStream message ${seq} of ${topic}`, {
      cause: error,
    });
  }
}
