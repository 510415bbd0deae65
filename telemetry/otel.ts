/**
 * OpenTelemetry for WebSock: the same counts as {@linkcode Metrics}, recorded as OpenTelemetry
 * metrics on `npm:@opentelemetry/api`, and optionally one span per connection. With Deno's
 * built-in OpenTelemetry (`OTEL_DENO=true`) they are exported over OTLP with no other set-up:
 * the global meter and tracer are Deno's.
 *
 * Counters are observable instruments, read from the collector at each collection (so open
 * connections' messages show up before they close); durations are histograms.
 *
 * @example Export to an OTLP collector with Deno's built-in OpenTelemetry
 * ```ts ignore
 * // OTEL_DENO=true OTEL_SERVICE_NAME=chat deno run -A server.ts
 * import { websockHandler } from "@websock/websock/deno";
 * import { otelTelemetry } from "@websock/websock/otel";
 * import { Chat } from "./chat.ts";
 *
 * Deno.serve(websockHandler(Chat, { telemetry: otelTelemetry({ spans: true }) }));
 * ```
 *
 * @module
 */

import { metrics, SpanKind, SpanStatusCode, trace } from "npm:@opentelemetry/api@^1.9.0";
import { CALLBACK_BUCKETS, DURATION_BUCKETS, Metrics, type MetricsSnapshot } from "./metrics.ts";
import type {
  CallbackErrorEvent,
  CallbackName,
  ConnectionStartEvent,
  ConnectionStopEvent,
  Telemetry,
} from "../engine/telemetry.ts";
import type { Connection } from "../websock.ts";

// Everything of ./telemetry (Metrics and the Telemetry types), so that this entry stands alone.
export * from "./mod.ts";

/** The instrumentation scope's name: the meter and tracer are got under it. */
export const SCOPE_NAME = "websock";
/** The instrumentation scope's version: this package's. */
export const SCOPE_VERSION = "0.1.0";

/** Attributes of a measurement or a span. */
export type OtelAttributes = Record<string, string | number | boolean | undefined>;

/** An observable instrument (opaque here: it is only handed back to the meter). */
export type OtelObservable = object;

/** What a batch observable callback records into. */
export interface OtelBatchResult {
  /** Record the current value of an observable instrument. */
  observe(observable: OtelObservable, value: number, attributes?: OtelAttributes): void;
}

/** Options of an instrument. */
export interface OtelInstrumentOptions {
  /** What it measures. */
  description?: string;
  /** Its unit (UCUM). */
  unit?: string;
  /** Hints to the SDK, such as histogram bucket boundaries. */
  advice?: { explicitBucketBoundaries?: number[] };
}

/** A histogram instrument. */
export interface OtelHistogram {
  /** Record one value. */
  record(value: number, attributes?: OtelAttributes): void;
}

/**
 * The part of an OpenTelemetry `Meter` this entry uses: a `Meter` of `npm:@opentelemetry/api`,
 * of an SDK, or Deno's built-in one fits.
 */
export interface OtelMeter {
  /** Make a histogram. */
  createHistogram(name: string, options?: OtelInstrumentOptions): OtelHistogram;
  /** Make an observable counter. */
  createObservableCounter(name: string, options?: OtelInstrumentOptions): OtelObservable;
  /** Make an observable up-down counter. */
  createObservableUpDownCounter(name: string, options?: OtelInstrumentOptions): OtelObservable;
  /** Read several observable instruments in one callback. */
  addBatchObservableCallback(
    callback: (result: OtelBatchResult) => void,
    observables: OtelObservable[],
  ): void;
  /** Remove a batch callback. */
  removeBatchObservableCallback(
    callback: (result: OtelBatchResult) => void,
    observables: OtelObservable[],
  ): void;
}

/** Where meters come from: a `MeterProvider`, or the api's global `metrics`. */
export interface OtelMeterProvider {
  /** The meter of an instrumentation scope. */
  getMeter(name: string, version?: string): OtelMeter;
}

/** The part of an OpenTelemetry `Span` this entry uses. */
export interface OtelSpan {
  /** Set one attribute. */
  setAttribute(key: string, value: string | number | boolean): unknown;
  /** Set several attributes. */
  setAttributes(attributes: OtelAttributes): unknown;
  /** Record an exception event. */
  recordException(exception: Error | string): void;
  /** Set the status (2: ERROR). */
  setStatus(status: { code: number; message?: string }): unknown;
  /** End the span. */
  end(): void;
}

/** The part of an OpenTelemetry `Tracer` this entry uses. */
export interface OtelTracer {
  /** Start a span. */
  startSpan(name: string, options?: { kind?: number; attributes?: OtelAttributes }): OtelSpan;
}

/** Where tracers come from: a `TracerProvider`, or the api's global `trace`. */
export interface OtelTracerProvider {
  /** The tracer of an instrumentation scope. */
  getTracer(name: string, version?: string): OtelTracer;
}

/** Options of {@linkcode otelTelemetry}. */
export interface OtelOptions {
  /**
   * The meter to record on; wins over `meterProvider`.
   * @default {One got from meterProvider}
   */
  meter?: OtelMeter;
  /**
   * Where to get the `websock` meter from. The global one is looked up when
   * {@linkcode otelTelemetry} runs: register an SDK's provider before that (Deno's built-in
   * one is registered before your code runs).
   * @default {The global MeterProvider}
   */
  meterProvider?: OtelMeterProvider;
  /**
   * Make one span per connection (kind SERVER, from open to the end), with the close codes, the
   * message counts and the end's reason; an error end sets the status to ERROR.
   * @default {false}
   */
  spans?: boolean;
  /**
   * The tracer for the spans; wins over `tracerProvider`.
   * @default {One got from tracerProvider}
   */
  tracer?: OtelTracer;
  /**
   * Where to get the `websock` tracer from.
   * @default {The global TracerProvider}
   */
  tracerProvider?: OtelTracerProvider;
  /**
   * Record each handler callback's duration in `websock.callback.duration` (two clock reads
   * per callback).
   * @default {false}
   */
  callbackDurations?: boolean;
}

interface Live {
  readonly span: OtelSpan;
  recorded: unknown;
}

const KINDS = ["text", "binary", "ping", "pong"] as const;
const NO_ERROR = Symbol("none");

/**
 * A {@linkcode Telemetry} that records on OpenTelemetry; it is a {@linkcode Metrics} too, so its
 * `snapshot()` and `prometheus()` work as well. Instruments (attributes in brackets):
 * `websock.connections.active`, `websock.connections.opened`, `websock.connections.closed`
 * (`websock.terminate.reason`), `websock.messages.received` / `.sent` and
 * `websock.bytes.received` / `.sent` (`websock.message.kind`), `websock.close_codes.sent` /
 * `.received` (`websocket.close.code`), `websock.upgrades.refused`
 * (`http.response.status_code`), `websock.errors` (`websock.error.source`),
 * `websock.mailbox.dropped` (`websock.drop.reason`), `websock.slow_peers`, and the histograms
 * `websock.connection.duration` (s, `websock.terminate.reason`) and, when asked for,
 * `websock.callback.duration` (s, `websock.callback`).
 *
 * @example On the global meter (Deno's under `OTEL_DENO=true`), with a span per connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { OtelTelemetry } from "@websock/websock/otel";
 * import { TestConnection } from "@websock/websock/testing";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * // As the telemetry option of any adapter: websockHandler(Echo, { telemetry }).
 * const telemetry = new OtelTelemetry({ spans: true });
 * const conn = await TestConnection.start(Echo, { telemetry });
 * await conn.receive("hi");
 * await conn.close(1000, "");
 * // It is a Metrics too: the same counts, read here.
 * assert.deepEqual(telemetry.snapshot().connections.closed.remote, 1);
 * assert.deepEqual(telemetry.snapshot().sent.text, { messages: 1, bytes: 2 });
 * telemetry.close();
 * ```
 */
export class OtelTelemetry extends Metrics implements Telemetry {
  readonly #meter: OtelMeter;
  readonly #observables: OtelObservable[];
  readonly #observe: (result: OtelBatchResult) => void;
  readonly #duration: OtelHistogram;
  readonly #tracer: OtelTracer | undefined;
  readonly #live = new WeakMap<Connection<unknown>, Live>();

  /**
   * Make the instruments (and take the tracer) now.
   *
   * @param options The meter or its provider, spans, callback durations.
   */
  constructor(options: OtelOptions = {}) {
    // Metrics records callback durations too: snapshot() and prometheus() have them.
    super({ callbackDurations: options.callbackDurations });
    const meter = options.meter ??
      (options.meterProvider ?? (metrics as OtelMeterProvider)).getMeter(SCOPE_NAME, SCOPE_VERSION);
    this.#meter = meter;
    if (options.spans) {
      this.#tracer = options.tracer ??
        (options.tracerProvider ?? (trace as OtelTracerProvider)).getTracer(
          SCOPE_NAME,
          SCOPE_VERSION,
        );
    }
    const counter = (name: string, unit: string, description: string) =>
      meter.createObservableCounter(name, { unit, description });
    const active = meter.createObservableUpDownCounter("websock.connections.active", {
      unit: "{connection}",
      description: "Open WebSocket connections",
    });
    const opened = counter("websock.connections.opened", "{connection}", "Connections opened");
    const closed = counter("websock.connections.closed", "{connection}", "Connections over");
    const messagesIn = counter("websock.messages.received", "{message}", "Messages received");
    const messagesOut = counter("websock.messages.sent", "{message}", "Messages sent");
    const bytesIn = counter("websock.bytes.received", "By", "Payload bytes received");
    const bytesOut = counter("websock.bytes.sent", "By", "Payload bytes sent");
    const codesSent = counter("websock.close_codes.sent", "{close}", "Close codes sent first");
    const codesIn = counter("websock.close_codes.received", "{close}", "Peer close codes");
    const refused = counter("websock.upgrades.refused", "{request}", "Refused upgrades");
    const errors = counter("websock.errors", "{error}", "Errors told to onError");
    const drops = counter("websock.mailbox.dropped", "{message}", "Dropped mailbox messages");
    const slow = counter("websock.slow_peers", "{connection}", "Peers closed for not reading");
    this.#observables = [
      active,
      opened,
      closed,
      messagesIn,
      messagesOut,
      bytesIn,
      bytesOut,
      codesSent,
      codesIn,
      refused,
      errors,
      drops,
      slow,
    ];
    this.#observe = (result) => {
      const s: MetricsSnapshot = this.snapshot();
      result.observe(active, s.connections.active);
      result.observe(opened, s.connections.opened);
      for (const [reason, n] of Object.entries(s.connections.closed)) {
        result.observe(closed, n, { "websock.terminate.reason": reason });
      }
      for (const kind of KINDS) {
        const attributes = { "websock.message.kind": kind };
        result.observe(messagesIn, s.received[kind].messages, attributes);
        result.observe(bytesIn, s.received[kind].bytes, attributes);
        result.observe(messagesOut, s.sent[kind].messages, attributes);
        result.observe(bytesOut, s.sent[kind].bytes, attributes);
      }
      const each = (o: OtelObservable, key: string, record: Readonly<Record<string, number>>) => {
        for (const [k, n] of Object.entries(record)) {
          result.observe(o, n, { [key]: /^\d+$/.test(k) ? Number(k) : k });
        }
      };
      each(codesSent, "websocket.close.code", s.closeCodesSent);
      each(codesIn, "websocket.close.code", s.closeCodesReceived);
      each(refused, "http.response.status_code", s.upgradesRefused);
      each(errors, "websock.error.source", s.errors);
      each(drops, "websock.drop.reason", s.mailboxDrops);
      result.observe(slow, s.slowPeers);
    };
    meter.addBatchObservableCallback(this.#observe, this.#observables);
    this.#duration = meter.createHistogram("websock.connection.duration", {
      unit: "s",
      description: "How long connections lasted",
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
    });
    if (options.callbackDurations) {
      const histogram = meter.createHistogram("websock.callback.duration", {
        unit: "s",
        description: "How long handler callbacks took",
        advice: { explicitBucketBoundaries: [...CALLBACK_BUCKETS] },
      });
      const attributes = Object.fromEntries(
        ["init", "handleIn", "handleControl", "handleInfo", "terminate"].map((
          name,
        ) => [name, { "websock.callback": name }]),
      ) as unknown as Record<CallbackName, OtelAttributes>;
      const metricsRecord = this.onCallbackDuration!;
      this.onCallbackDuration = (callback, ms) => {
        metricsRecord(callback, ms);
        histogram.record(ms / 1000, attributes[callback]);
      };
    }
  }

  /**
   * A connection opened: count it; start its span.
   *
   * @param event What the engine tells.
   */
  override onConnectionStart(event: ConnectionStartEvent): void {
    super.onConnectionStart(event);
    const tracer = this.#tracer;
    if (tracer === undefined) return;
    const attributes: OtelAttributes = {
      "url.full": event.url,
      "network.protocol.name": "websocket",
    };
    if (event.protocol !== "") attributes["websocket.protocol"] = event.protocol;
    if (event.remoteAddr !== null) {
      attributes["client.address"] = event.remoteAddr.hostname;
      attributes["client.port"] = event.remoteAddr.port;
    }
    const span = tracer.startSpan("WebSocket connection", { kind: SpanKind.SERVER, attributes });
    this.#live.set(event.connection, { span, recorded: NO_ERROR });
  }

  /**
   * A connection is over: count it, record its duration, end its span.
   *
   * @param event What the engine tells.
   */
  override onConnectionStop(event: ConnectionStopEvent): void {
    super.onConnectionStop(event);
    const reason = event.reason.type;
    this.#duration.record(event.duration / 1000, { "websock.terminate.reason": reason });
    const live = this.#live.get(event.connection);
    if (live === undefined) return;
    this.#live.delete(event.connection);
    const { span } = live;
    const { received, sent } = event.stats;
    span.setAttributes({
      "websock.terminate.reason": reason,
      "websock.messages.received": received.text + received.binary,
      "websock.messages.sent": sent.text + sent.binary,
      "websock.bytes.received": received.textBytes + received.binaryBytes,
      "websock.bytes.sent": sent.textBytes + sent.binaryBytes,
    });
    if (event.closeSent !== null) span.setAttribute("websocket.close.code", event.closeSent.code);
    if (event.closeReceived !== null) {
      span.setAttribute("websocket.close.code.received", event.closeReceived.code);
    }
    if (event.reason.type === "error") {
      const error = event.reason.error;
      if (live.recorded !== error) span.recordException(exception(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
    }
    span.end();
  }

  /**
   * An error reached the error hook: count it; record it on its connection's span.
   *
   * @param event What the engine tells.
   */
  override onCallbackError(event: CallbackErrorEvent): void {
    super.onCallbackError(event);
    const live = event.connection && this.#live.get(event.connection);
    if (live === undefined) return;
    live.span.recordException(exception(event.error));
    live.recorded = event.error;
  }

  /** Stop reporting the counters (the observable callback is removed from the meter). */
  close(): void {
    this.#meter.removeBatchObservableCallback(this.#observe, this.#observables);
  }
}

function exception(error: unknown): Error | string {
  return error instanceof Error ? error : String(error);
}

/**
 * Make a {@linkcode Telemetry} that records on OpenTelemetry: pass it as the `telemetry` option
 * of any adapter.
 *
 * @param options The meter (default: the global one's `websock` meter), spans, callback
 *   durations.
 * @returns The telemetry (a {@linkcode Metrics} that also records on OpenTelemetry).
 *
 * @example On the global meter
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { websockHandler } from "@websock/websock/deno";
 * import { otelTelemetry } from "@websock/websock/otel";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * const telemetry = otelTelemetry();
 * const handler = websockHandler(Echo, { telemetry });
 * // Deno.serve(handler);
 * assert.equal(telemetry.snapshot().connections.opened, 0);
 * telemetry.close();
 * ```
 *
 * @example With an SDK's MeterProvider
 * ```ts ignore
 * import { MeterProvider } from "npm:@opentelemetry/sdk-metrics@3";
 * import { websockHandler } from "@websock/websock/deno";
 * import { otelTelemetry } from "@websock/websock/otel";
 * import { Echo } from "./echo.ts";
 *
 * const meterProvider = new MeterProvider({ readers: [] });
 * Deno.serve(websockHandler(Echo, { telemetry: otelTelemetry({ meterProvider }) }));
 * ```
 */
export function otelTelemetry(options: OtelOptions = {}): OtelTelemetry {
  return new OtelTelemetry(options);
}
