// The engine's transport: given, or the engine itself (a subclass that implements Transport,
// as the Deno adapter's: one object per connection).

import assert from "node:assert/strict";
import { ok, push, type WebSock } from "../mod.ts";
import { Engine, resolveEngineOptions, type Transport } from "../engine/mod.ts";

const Echo = {
  init: () => ok(null),
  handleIn: (data, state) => push(data, state),
} satisfies WebSock<null>;

const info = { url: "ws://x/", headers: new Headers(), remoteAddr: null, protocol: "" };
const init = { arg: undefined, info, options: resolveEngineOptions({ timeout: 0 }) };

class SelfSent extends Engine<null> implements Transport {
  readonly sent: unknown[] = [];
  constructor() {
    super(Echo, undefined, init);
  }
  sendText(data: string): void {
    this.sent.push(data);
  }
  sendBinary(data: Uint8Array): void {
    this.sent.push(data);
  }
  close(code: number, reason: string): void {
    this.sent.push({ code, reason });
  }
  bufferedAmount(): number {
    return 0;
  }
}

Deno.test("an engine without a transport sends through itself when it is one", () => {
  const engine = new SelfSent();
  engine.open();
  engine.receive("hi");
  engine.shutdown();
  assert.deepEqual(engine.sent, ["hi", { code: 1001, reason: "Server shutting down" }]);
});

Deno.test("an engine without a transport that is none is refused with a TypeError", () => {
  assert.throws(
    () => new Engine(Echo, undefined, init),
    new TypeError("Invalid Engine: no transport, and the engine is no Transport (sendText)"),
  );
});
