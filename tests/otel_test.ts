// The ./otel entry: the same counts as Metrics, as OpenTelemetry instruments read by an SDK
// MeterProvider with a pull reader (no timers), spans per connection through an SDK
// TracerProvider, and Deno's built-in OpenTelemetry (OTEL_DENO=true) exporting both over OTLP to
// a collector in this test.

import assert from "node:assert/strict";
import {
  type DataPoint,
  DataPointType,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from "npm:@opentelemetry/sdk-metrics@3.1.1";
import {
  type ReadableSpan,
  type SpanProcessor,
  TracerProvider,
} from "npm:@opentelemetry/sdk-trace@3.1.1";
import { ok, push, stop, type WebSock } from "../mod.ts";
import { otelTelemetry, SCOPE_NAME, SCOPE_VERSION } from "../telemetry/otel.ts";
import { connect, serve } from "./_helpers.ts";

/** A pull reader: it starts no timer; the test collects itself. */
class PullReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** Ended spans, kept synchronously (no exporter, no timer). */
class Spans implements SpanProcessor {
  readonly ended: ReadableSpan[] = [];
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.ended.push(span);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

type Points = Record<string, { type: string; unit: string; points: DataPoint<unknown>[] }>;

function byName(resource: ResourceMetrics): Points {
  const out: Points = {};
  for (const scope of resource.scopeMetrics) {
    assert.equal(scope.scope.name, SCOPE_NAME);
    for (const metric of scope.metrics) {
      out[metric.descriptor.name] = {
        type: DataPointType[metric.dataPointType],
        unit: metric.descriptor.unit,
        points: metric.dataPoints as DataPoint<unknown>[],
      };
    }
  }
  return out;
}

function value(points: Points, name: string, attributes: Record<string, unknown> = {}): unknown {
  const point = points[name]?.points.find((p) =>
    JSON.stringify(Object.entries(p.attributes).sort()) ===
      JSON.stringify(Object.entries(attributes).sort())
  );
  return point?.value;
}

const Echo = {
  init: () => ok(null),
  handleIn(data, state) {
    if (data === "throw") throw new Error("boom");
    if (data === "bye") return stop("normal", state, 4000);
    return push(data, state);
  },
  handleInfo: (_message, state) => ok(state),
} satisfies WebSock<null>;

Deno.test("otelTelemetry() records connections, messages, bytes, codes and durations", async () => {
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const telemetry = otelTelemetry({ meterProvider, callbackDurations: true });
  try {
    {
      await using srv = serve(Echo, { telemetry, onError() {}, origins: ["http://ok"] });
      const a = await connect(srv.url);
      a.send("héllo"); // 6 bytes
      assert.equal(await a.next(), "héllo");
      // Observable counters read the open connection's counters at collection time.
      const early = byName((await reader.collect()).resourceMetrics);
      assert.equal(value(early, "websock.connections.active"), 1);
      assert.equal(value(early, "websock.bytes.received", { "websock.message.kind": "text" }), 6);
      a.send(new Uint8Array(4));
      await a.next();
      a.send("bye");
      assert.equal((await a.closed).code, 4000);
      const b = await connect(srv.url);
      b.send("throw");
      assert.equal((await b.closed).code, 1011);
      const refused = await fetch(srv.url.replace("ws:", "http:"), {
        headers: {
          upgrade: "websocket",
          connection: "upgrade",
          "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
          "sec-websocket-version": "13",
          origin: "http://evil",
        },
      });
      assert.equal(refused.status, 403);
      await refused.body?.cancel();
      while (telemetry.snapshot().connections.active > 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    const { resourceMetrics, errors } = await reader.collect();
    assert.deepEqual(errors, []);
    assert.equal(resourceMetrics.scopeMetrics[0].scope.version, SCOPE_VERSION);
    const points = byName(resourceMetrics);
    assert.equal(points["websock.connections.opened"].type, "SUM");
    assert.equal(value(points, "websock.connections.opened"), 2);
    assert.equal(value(points, "websock.connections.active"), 0);
    assert.equal(
      value(points, "websock.connections.closed", { "websock.terminate.reason": "normal" }),
      1,
    );
    assert.equal(
      value(points, "websock.connections.closed", { "websock.terminate.reason": "error" }),
      1,
    );
    const text = { "websock.message.kind": "text" };
    const bin = { "websock.message.kind": "binary" };
    assert.equal(value(points, "websock.messages.received", text), 3);
    assert.equal(value(points, "websock.bytes.received", text), 6 + 3 + 5);
    assert.equal(value(points, "websock.bytes.received", bin), 4);
    assert.equal(value(points, "websock.messages.sent", bin), 1);
    assert.equal(points["websock.bytes.sent"].unit, "By");
    assert.equal(value(points, "websock.close_codes.sent", { "websocket.close.code": 4000 }), 1);
    assert.equal(value(points, "websock.close_codes.sent", { "websocket.close.code": 1011 }), 1);
    assert.equal(
      value(points, "websock.upgrades.refused", { "http.response.status_code": 403 }),
      1,
    );
    assert.equal(value(points, "websock.errors", { "websock.error.source": "handleIn" }), 1);
    const duration = points["websock.connection.duration"];
    assert.equal(duration.type, "HISTOGRAM");
    assert.equal(duration.unit, "s");
    const normal = value(points, "websock.connection.duration", {
      "websock.terminate.reason": "normal",
    }) as Histogram;
    assert.equal(normal.count, 1);
    assert.deepEqual(normal.buckets.boundaries, [1, 10, 60, 300, 1800, 3600, 21600, 86400]);
    const handleIn = value(points, "websock.callback.duration", {
      "websock.callback": "handleIn",
    }) as Histogram;
    assert.equal(handleIn.count, 4);
    // The Metrics side (snapshot, Prometheus text) has the callback durations too.
    assert.equal(telemetry.snapshot().callbackDuration?.handleIn.count, 4);
    assert.match(
      telemetry.prometheus(),
      /^websock_callback_duration_seconds_count\{callback="handleIn"\} 4$/m,
    );
  } finally {
    telemetry.close();
    await meterProvider.shutdown();
  }
});

Deno.test("otelTelemetry() makes one span per connection, with an error status when it failed", async () => {
  const spans = new Spans();
  const tracerProvider = new TracerProvider({ spanProcessors: [spans] });
  const meterProvider = new MeterProvider({ readers: [new PullReader()] });
  const telemetry = otelTelemetry({ meterProvider, tracerProvider, spans: true });
  try {
    await using srv = serve(Echo, { telemetry, onError() {}, protocols: ["chat"] });
    const a = await connect(`${srv.url}room`, "chat");
    a.send("x");
    await a.next();
    await a.close(1000, "done");
    const b = await connect(srv.url);
    b.send("throw");
    await b.closed;
    while (spans.ended.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const [first, second] = spans.ended;
    assert.equal(first.name, "WebSocket connection");
    assert.equal(first.kind, 1); // SERVER
    assert.equal(first.instrumentationScope.name, SCOPE_NAME);
    assert.equal(first.attributes["url.full"], `http://127.0.0.1:${srv.port}/room`);
    assert.equal(first.attributes["websocket.protocol"], "chat");
    assert.equal(first.attributes["client.address"], "127.0.0.1");
    assert.equal(first.attributes["websock.terminate.reason"], "remote");
    assert.equal(first.attributes["websocket.close.code.received"], 1000);
    assert.equal(first.attributes["websock.messages.received"], 1);
    assert.equal(first.attributes["websock.bytes.sent"], 1);
    assert.equal(first.status.code, 0); // UNSET
    assert.equal(second.attributes["websocket.close.code"], 1011);
    assert.equal(second.status.code, 2); // ERROR
    assert.equal(second.status.message, "Error: boom");
    assert.deepEqual(second.events.map((e) => e.name), ["exception"], "recorded once");
  } finally {
    telemetry.close();
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  }
});

Deno.test("SCOPE_VERSION is the package's version", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(SCOPE_VERSION, config.version);
});

// The parts of OTLP/JSON the test reads.
interface OtlpPoint {
  readonly asInt?: string | number;
  readonly asDouble?: number;
  readonly count?: string | number;
  readonly attributes: { key: string; value: { stringValue?: string } }[];
}
interface OtlpMetric {
  readonly name: string;
  readonly sum?: { isMonotonic?: boolean; dataPoints: OtlpPoint[] };
  readonly histogram?: { dataPoints: OtlpPoint[] };
}
interface OtlpMetrics {
  readonly resourceMetrics: {
    scopeMetrics: { scope: { name: string }; metrics: OtlpMetric[] }[];
  }[];
}
interface OtlpTraces {
  readonly resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[];
}

Deno.test("otelTelemetry() exports through Deno's built-in OpenTelemetry (OTEL_DENO=true)", async () => {
  const metrics: OtlpMetrics[] = [];
  const traces: OtlpTraces[] = [];
  const collector = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      const body = await request.json();
      if (path === "/v1/metrics") metrics.push(body);
      if (path === "/v1/traces") traces.push(body);
      return Response.json({});
    },
  );
  try {
    const app = new URL("./fixtures/otel_app.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-read", "--allow-env", app],
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
        OTEL_METRIC_EXPORT_INTERVAL: "100",
        OTEL_SERVICE_NAME: "websock-test",
      },
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    // The latest export of one of our metrics.
    const last = (name: string): OtlpMetric | undefined =>
      metrics.flatMap((body) => body.resourceMetrics).flatMap((r) => r.scopeMetrics)
        .filter((scope) => scope.scope.name === SCOPE_NAME).flatMap((scope) => scope.metrics)
        .filter((metric) => metric.name === name).at(-1);
    const value = (point: OtlpPoint | undefined) => Number(point?.asInt ?? point?.asDouble);
    const withValue = (metric: OtlpMetric | undefined, attribute: string) =>
      metric?.sum?.dataPoints.find((p) => p.attributes[0]?.value.stringValue === attribute);
    // The counters come with the periodic exports, once the connection is over.
    const deadline = Date.now() + 20_000;
    while (
      value(withValue(last("websock.connections.closed"), "remote")) !== 1 && Date.now() < deadline
    ) await new Promise((resolve) => setTimeout(resolve, 50));
    await child.stdin.close();
    const { code } = await child.status;
    assert.equal(code, 0, await stderr);
    const opened = last("websock.connections.opened");
    assert.equal(value(opened?.sum?.dataPoints[0]), 1);
    assert.equal(opened?.sum?.isMonotonic, true);
    assert.equal(value(withValue(last("websock.bytes.received"), "text")), 5);
    assert.equal(value(withValue(last("websock.messages.sent"), "text")), 1);
    assert.equal(Number(last("websock.connection.duration")?.histogram?.dataPoints[0].count), 1);
    const spans = traces.flatMap((body) => body.resourceSpans).flatMap((r) => r.scopeSpans)
      .flatMap((scope) => scope.spans);
    assert.ok(spans.some((span) => span.name === "WebSocket connection"), "the span was exported");
  } finally {
    await collector.shutdown();
  }
});
