// Metrics: a zero-dependency telemetry collector with counters, gauges and histograms, a
// snapshot object and Prometheus text exposition.

import type {
  CallbackErrorEvent,
  CallbackName,
  ConnectionStartEvent,
  ConnectionStats,
  ConnectionStopEvent,
  ErrorSource,
  MailboxDropEvent,
  SlowPeerEvent,
  Telemetry,
  Traffic,
  UpgradeRefusedEvent,
} from "../engine/telemetry.ts";
import type { TerminateReason } from "../websock.ts";
import { type Buckets, Exposition, type Sample } from "./_prometheus.ts";
import { showValue } from "../engine/show_value.ts";
import { presenceFamilies, sumPresence } from "./_presence.ts";
import type { PresenceCounts, PresenceSource } from "./presence_counts.ts";

export type { PresenceCounts, PresenceSource } from "./presence_counts.ts";

/** The content type of {@linkcode Metrics.prometheus}'s text (exposition format 0.0.4). */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Options of {@linkcode Metrics}. */
export interface MetricsOptions {
  /**
   * The first word of every metric name in {@linkcode Metrics.prometheus}.
   * @default {"websock"}
   */
  prefix?: string;
  /**
   * Upper bounds, in seconds, of the connection-duration histogram's buckets.
   * @default {[1, 10, 60, 300, 1800, 3600, 21600, 86400]}
   */
  durationBuckets?: readonly number[];
  /**
   * Time every handler callback into a histogram per callback. It costs two clock reads per
   * callback (see `bench/RESULTS.md`), so it is off unless asked for.
   * @default {false}
   */
  callbackDurations?: boolean;
  /**
   * Upper bounds, in seconds, of the callback-duration histogram's buckets.
   * @default {[0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]}
   */
  callbackBuckets?: readonly number[];
}

/** Messages and payload bytes of one kind. */
export interface KindTotals {
  /** Messages (a text or binary message counts once, however many frames carried it). */
  readonly messages: number;
  /** Payload bytes (UTF-8 for text). */
  readonly bytes: number;
}

/** One direction's totals by kind. */
export interface TrafficTotals {
  /** Text messages. */
  readonly text: KindTotals;
  /** Binary messages. */
  readonly binary: KindTotals;
  /** Pings (Node and Bun adapters only). */
  readonly ping: KindTotals;
  /** Pongs (Node and Bun adapters only). */
  readonly pong: KindTotals;
}

/** A histogram: bucket bounds, cumulative counts, sum and count. */
export interface HistogramSnapshot {
  /** Upper bounds of the buckets, in seconds. */
  readonly bounds: readonly number[];
  /** How many observations were at most each bound; one more entry at the end for all. */
  readonly counts: readonly number[];
  /** The sum of the observations, in seconds. */
  readonly sum: number;
  /** How many observations there were. */
  readonly count: number;
}

/** Everything {@linkcode Metrics} counted, as plain JSON-able data. */
export interface MetricsSnapshot {
  /** Connections: open now, opened ever, and over by why they ended. */
  readonly connections: {
    /** Open now. */
    readonly active: number;
    /** Opened since the collector was made. */
    readonly opened: number;
    /** Over, by the type of the reason `terminate` was told. */
    readonly closed: Readonly<Record<TerminateReason["type"], number>>;
  };
  /** What peers sent (connections still open included). */
  readonly received: TrafficTotals;
  /** What handlers sent (connections still open included). */
  readonly sent: TrafficTotals;
  /** Close codes the server sent first, by code. */
  readonly closeCodesSent: Readonly<Record<string, number>>;
  /** Close codes peers sent when they closed first (1006: dropped without a close), by code. */
  readonly closeCodesReceived: Readonly<Record<string, number>>;
  /** Refused upgrades by HTTP status. */
  readonly upgradesRefused: Readonly<Record<string, number>>;
  /** Errors the error hook was told of, by source. */
  readonly errors: Readonly<Record<ErrorSource, number>>;
  /** Mailbox messages dropped: the queue was full, the connection closing or closed, or the
   * handler without `handleInfo`. */
  readonly mailboxDrops: {
    /** The queue was full. */
    readonly full: number;
    /** The connection was closing or closed. */
    readonly closed: number;
    /** The handler has no `handleInfo`. */
    readonly unhandled: number;
  };
  /** Peers closed with 1008 for not reading. */
  readonly slowPeers: number;
  /** How long connections lasted, in seconds (those that are over). */
  readonly connectionDuration: HistogramSnapshot;
  /** How long callbacks took, in seconds, by callback (with `callbackDurations` only). */
  readonly callbackDuration?: Readonly<Record<CallbackName, HistogramSnapshot>>;
  /** Presence, summed over the trackers watched (with `watchPresence` only). */
  readonly presence?: PresenceCounts;
}

const KINDS = ["text", "binary", "ping", "pong"] as const;

/** The default bucket bounds of the connection-duration histogram, in seconds. */
export const DURATION_BUCKETS: readonly number[] = [1, 10, 60, 300, 1800, 3600, 21600, 86400];

/** The default bucket bounds of the callback-duration histogram, in seconds. */
export const CALLBACK_BUCKETS: readonly number[] = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
];
const SOURCES: readonly ErrorSource[] = [
  "init",
  "handleIn",
  "handleControl",
  "handleInfo",
  "terminate",
  "upgrade",
  "transport",
];
const CALLBACKS: readonly CallbackName[] = [
  "init",
  "handleIn",
  "handleControl",
  "handleInfo",
  "terminate",
];

class Histogram implements Buckets {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;

  constructor(name: string, bounds: readonly number[]) {
    if (
      !Array.isArray(bounds) || bounds.length === 0 ||
      bounds.some((b, i) => typeof b !== "number" || !(b > (i > 0 ? bounds[i - 1] : 0)))
    ) {
      throw new TypeError(
        `Invalid option ${name}: ${showValue(bounds)} is not a list of increasing positive numbers`,
      );
    }
    this.bounds = [...bounds];
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
  }

  snapshot(): HistogramSnapshot {
    const counts: number[] = [];
    let cumulative = 0;
    for (const count of this.counts) counts.push(cumulative += count);
    return { bounds: [...this.bounds], counts, sum: this.sum, count: cumulative };
  }
}

function zeroTraffic(): Record<keyof Traffic, number> {
  return {
    text: 0,
    textBytes: 0,
    binary: 0,
    binaryBytes: 0,
    ping: 0,
    pingBytes: 0,
    pong: 0,
    pongBytes: 0,
  };
}

function addTraffic(into: Record<keyof Traffic, number>, from: Traffic): void {
  for (const key in into) into[key as keyof Traffic] += from[key as keyof Traffic];
}

function totals(traffic: Traffic): TrafficTotals {
  return {
    text: { messages: traffic.text, bytes: traffic.textBytes },
    binary: { messages: traffic.binary, bytes: traffic.binaryBytes },
    ping: { messages: traffic.ping, bytes: traffic.pingBytes },
    pong: { messages: traffic.pong, bytes: traffic.pongBytes },
  };
}

function increment<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function byKey(map: Map<number, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of [...map.keys()].sort((a, b) => a - b)) out[key] = map.get(key)!;
  return out;
}

/**
 * A telemetry collector with no dependencies: pass it as the `telemetry` option of any adapter
 * and read {@linkcode Metrics.snapshot} or serve {@linkcode Metrics.prometheus}. Message and
 * byte totals include connections that are still open (their counters are read at scrape
 * time); counting costs a few additions per message.
 *
 * @example Serve `/metrics` beside the WebSocket
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { websockHandler } from "@websock/websock/deno";
 * import { Metrics } from "@websock/websock/telemetry";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * const metrics = new Metrics();
 * const handler = websockHandler(Echo, {
 *   telemetry: metrics,
 *   fallback: (request) =>
 *     new URL(request.url).pathname === "/metrics"
 *       ? metrics.response()
 *       : new Response("Not found", { status: 404 }),
 * });
 * // Deno.serve(handler);
 * assert.equal(metrics.snapshot().connections.active, 0);
 * assert.equal((await handler(new Request("http://localhost/metrics"))).status, 200);
 * ```
 */
export class Metrics implements Telemetry {
  readonly #prefix: string;
  readonly #live = new Set<ConnectionStats>();
  readonly #received = zeroTraffic();
  readonly #sent = zeroTraffic();
  #opened = 0;
  readonly #closed: Record<TerminateReason["type"], number> = {
    normal: 0,
    remote: 0,
    shutdown: 0,
    timeout: 0,
    error: 0,
  };
  readonly #codesSent = new Map<number, number>();
  readonly #codesReceived = new Map<number, number>();
  readonly #refused = new Map<number, number>();
  readonly #errors = Object.fromEntries(SOURCES.map((s) => [s, 0])) as Record<ErrorSource, number>;
  readonly #drops = { full: 0, closed: 0, unhandled: 0 };
  #slowPeers = 0;
  readonly #presence = new Set<PresenceSource>();
  readonly #duration: Histogram;
  readonly #callbacks: Record<CallbackName, Histogram> | undefined;
  /**
   * Records a callback's duration; defined only with the `callbackDurations` option (its
   * absence is what keeps callbacks untimed).
   */
  onCallbackDuration?: (callback: CallbackName, ms: number) => void;

  /**
   * Make a collector. Give it to one server or several; it counts all of them together.
   *
   * @param options Name prefix, histogram buckets, callback timing.
   * @throws {TypeError} When an option is invalid.
   */
  constructor(options: MetricsOptions = {}) {
    const prefix = options.prefix ?? "websock";
    if (typeof prefix !== "string" || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
      throw new TypeError(`Invalid option prefix: ${showValue(prefix)} is not a metric name`);
    }
    this.#prefix = prefix;
    this.#duration = new Histogram(
      "durationBuckets",
      options.durationBuckets ?? DURATION_BUCKETS,
    );
    if (options.callbackDurations) {
      const bounds = options.callbackBuckets ?? CALLBACK_BUCKETS;
      const callbacks = Object.fromEntries(
        CALLBACKS.map((name) => [name, new Histogram("callbackBuckets", bounds)]),
      ) as Record<CallbackName, Histogram>;
      this.#callbacks = callbacks;
      this.onCallbackDuration = (callback, ms) => callbacks[callback].observe(ms / 1000);
    }
  }

  /**
   * A connection opened: count it, and watch its counters.
   *
   * @param event What the engine tells.
   */
  onConnectionStart(event: ConnectionStartEvent): void {
    this.#opened++;
    this.#live.add(event.stats);
  }

  /**
   * A connection is over: move its counters to the totals, count its end and close codes.
   *
   * @param event What the engine tells.
   */
  onConnectionStop(event: ConnectionStopEvent): void {
    const { stats, closeSent, closeReceived, reason, duration } = event;
    if (this.#live.delete(stats)) {
      addTraffic(this.#received, stats.received);
      addTraffic(this.#sent, stats.sent);
    }
    this.#closed[reason.type]++;
    if (closeSent !== null) increment(this.#codesSent, closeSent.code);
    if (closeReceived !== null) increment(this.#codesReceived, closeReceived.code);
    this.#duration.observe(duration / 1000);
  }

  /**
   * An upgrade was refused: count it by status.
   *
   * @param event What the upgrade checks tell.
   */
  onUpgradeRefused(event: UpgradeRefusedEvent): void {
    increment(this.#refused, event.status);
  }

  /**
   * An error reached the error hook: count it by source.
   *
   * @param event What the engine tells.
   */
  onCallbackError(event: CallbackErrorEvent): void {
    this.#errors[event.source] = (this.#errors[event.source] ?? 0) + 1;
  }

  /**
   * A mailbox message was dropped: count it by reason.
   *
   * @param event What the engine tells.
   */
  onMailboxDrop(event: MailboxDropEvent): void {
    this.#drops[event.reason]++;
  }

  /**
   * A slow peer was closed with 1008: count it.
   *
   * @param _event What the engine tells.
   */
  onSlowPeer(_event: SlowPeerEvent): void {
    this.#slowPeers++;
  }

  /**
   * Report a presence tracker's entries, nodes and diffs too (read at each snapshot; several
   * trackers are summed).
   *
   * @param source A `Tracker` (or `Presence`) of `@websock/websock/presence`.
   * @returns A function that stops watching it.
   *
   * @example Watch a tracker
   * ```ts
   * import assert from "node:assert/strict";
   * import { Metrics } from "@websock/websock/telemetry";
   * import { Tracker } from "@websock/websock/presence";
   *
   * const metrics = new Metrics();
   * const tracker = new Tracker();
   * metrics.watchPresence(tracker);
   * tracker.track({}, "room:lobby", "alice");
   * assert.equal(metrics.snapshot().presence?.entries, 1);
   * ```
   */
  watchPresence(source: PresenceSource): () => void {
    if (typeof source?.stats !== "object") {
      throw new TypeError(`Cannot watch presence: ${String(source)} has no stats`);
    }
    this.#presence.add(source);
    return () => void this.#presence.delete(source);
  }

  /**
   * Everything counted so far, as plain data (a new object each call).
   *
   * @returns The counters, gauges and histograms.
   */
  snapshot(): MetricsSnapshot {
    const received = { ...this.#received };
    const sent = { ...this.#sent };
    for (const stats of this.#live) {
      addTraffic(received, stats.received);
      addTraffic(sent, stats.sent);
    }
    const callbacks = this.#callbacks;
    const presence = sumPresence(this.#presence);
    return {
      connections: { active: this.#live.size, opened: this.#opened, closed: { ...this.#closed } },
      received: totals(received),
      sent: totals(sent),
      closeCodesSent: byKey(this.#codesSent),
      closeCodesReceived: byKey(this.#codesReceived),
      upgradesRefused: byKey(this.#refused),
      errors: { ...this.#errors },
      mailboxDrops: { ...this.#drops },
      slowPeers: this.#slowPeers,
      connectionDuration: this.#duration.snapshot(),
      ...(callbacks && {
        callbackDuration: Object.fromEntries(
          CALLBACKS.map((name) => [name, callbacks[name].snapshot()]),
        ) as Record<CallbackName, HistogramSnapshot>,
      }),
      ...(presence && { presence }),
    };
  }

  /**
   * Everything counted so far in the Prometheus text exposition format (0.0.4): serve it with
   * the content type {@linkcode PROMETHEUS_CONTENT_TYPE}, or use {@linkcode Metrics.response}.
   *
   * @returns The exposition text.
   */
  prometheus(): string {
    const s = this.snapshot();
    const p = this.#prefix;
    const out = new Exposition();
    const labelled = (label: string, record: Readonly<Record<string, number>>): Sample[] =>
      Object.entries(record).map(([key, value]) => [[[label, key]], value]);
    const traffic = (t: TrafficTotals, field: keyof KindTotals): Sample[] =>
      KINDS.map((kind) => [[["kind", kind]], t[kind][field]]);
    out.family(`${p}_connections_active`, "gauge", "Open WebSocket connections.", [
      [[], s.connections.active],
    ]);
    const counters: [name: string, help: string, samples: Sample[]][] = [
      ["connections_opened_total", "WebSocket connections opened.", [[[], s.connections.opened]]],
      [
        "connections_closed_total",
        "WebSocket connections over, by the type of reason terminate was told.",
        labelled("reason", s.connections.closed),
      ],
      ["messages_received_total", "Messages received, by kind.", traffic(s.received, "messages")],
      [
        "received_bytes_total",
        "Payload bytes received (UTF-8 for text), by kind.",
        traffic(s.received, "bytes"),
      ],
      ["messages_sent_total", "Messages sent, by kind.", traffic(s.sent, "messages")],
      [
        "sent_bytes_total",
        "Payload bytes sent (UTF-8 for text), by kind.",
        traffic(s.sent, "bytes"),
      ],
      [
        "close_codes_sent_total",
        "Close codes the server sent first.",
        labelled("code", s.closeCodesSent),
      ],
      [
        "close_codes_received_total",
        "Close codes peers sent when they closed first (1006: dropped without a close frame).",
        labelled("code", s.closeCodesReceived),
      ],
      [
        "upgrades_refused_total",
        "Refused WebSocket upgrades, by HTTP status.",
        labelled("status", s.upgradesRefused),
      ],
      ["errors_total", "Errors reported to onError, by source.", labelled("source", s.errors)],
      [
        "mailbox_dropped_total",
        "Mailbox messages dropped: queue full, connection closing or closed, or no handleInfo.",
        labelled("reason", s.mailboxDrops),
      ],
      ["slow_peers_total", "Peers closed with 1008 for not reading.", [[[], s.slowPeers]]],
    ];
    if (s.presence !== undefined) presenceFamilies(out, p, s.presence, counters);
    for (const [name, help, samples] of counters) {
      out.family(`${p}_${name}`, "counter", help, samples);
    }
    out.histogram(
      `${p}_connection_duration_seconds`,
      "How long connections lasted.",
      [[[], this.#duration]],
    );
    const callbacks = this.#callbacks;
    if (callbacks !== undefined) {
      out.histogram(
        `${p}_callback_duration_seconds`,
        "How long handler callbacks took (async ones: until they settled).",
        CALLBACKS.map((name) => [[["callback", name]], callbacks[name]]),
      );
    }
    return out.toString();
  }

  /**
   * A `GET /metrics` answer: {@linkcode Metrics.prometheus} with its content type.
   *
   * @returns The response.
   */
  response(): Response {
    return new Response(this.prometheus(), {
      headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
    });
  }
}
