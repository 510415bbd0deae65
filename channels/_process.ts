// One joined channel of a socket: an actor of its own. Its callbacks never overlap and see
// its events in order; a sync callback runs without a promise, an async one is awaited before
// the next event. A crash ends this channel only (phx_error), never the socket.

import type { ConnectionInfo } from "../websock.ts";
import type { PublishResult } from "../pubsub/pubsub.ts";
import type { Channel, ChannelEnd, ChannelSocket, JoinResult } from "./channel.ts";
import { encodePush, encodeReply } from "./serializer.ts";
import { isThenable } from "../engine/is_thenable.ts";
import { showValue } from "../engine/show_value.ts";
import { type Broadcast, excluded, type Hub } from "./_hub.ts";

// Event kinds.
const JOIN = 0, IN = 1, INFO = 2, OUT = 3, LEAVE = 4;
type Kind = typeof JOIN | typeof IN | typeof INFO | typeof OUT | typeof LEAVE;
const NAMES = ["join", "handleIn", "handleInfo", "handleOut", "leave"] as const;

// Phases.
const JOINING = 0, JOINED = 1, ENDING = 2, DONE = 3;

/** Where a callback failed, as the error hook is told. */
export type ChannelErrorSource =
  | "connect"
  | "join"
  | "handleIn"
  | "handleInfo"
  | "handleOut"
  | "terminate";

/** What a channel needs of its socket. */
export interface Host {
  readonly assigns: unknown;
  readonly params: Readonly<Record<string, string>>;
  readonly connection: ConnectionInfo;
  readonly hub: Hub;
  /** Send a frame: collected into the running socket callback's push, or sent at once. */
  emit(frame: string | Uint8Array): boolean;
  /** Hand a message to this channel through the socket's mailbox. */
  mail(target: ChannelProcess, message: unknown, out: boolean): boolean;
  /** One more event waits (false: the socket's limit is reached, the event is dropped). */
  hold(): boolean;
  /** Events stopped waiting. */
  release(count: number): void;
  /** The channel ended: forget its topic (its terminate may still be pending). */
  forget(process: ChannelProcess): void;
  /** The channel's terminate has run (or never will). */
  gone(process: ChannelProcess): void;
  report(error: unknown, source: ChannelErrorSource, topic: string): void;
}

type Definition = Channel<unknown, unknown, unknown>;

const UNMATCHED = { reason: "unmatched topic" };

/** The facade a channel's callbacks hold: its `socket`. */
class Facade implements ChannelSocket<unknown, unknown> {
  readonly #process: ChannelProcess;

  constructor(process: ChannelProcess) {
    this.#process = process;
  }

  get topic(): string {
    return this.#process.topic;
  }
  get joinRef(): string {
    return this.#process.joinRef ?? "";
  }
  get assigns(): unknown {
    return this.#process.host.assigns;
  }
  get params(): Readonly<Record<string, string>> {
    return this.#process.host.params;
  }
  get connection(): ConnectionInfo {
    return this.#process.host.connection;
  }
  get closed(): boolean {
    return this.#process.closed;
  }
  push(event: string, payload: unknown): boolean {
    return this.#process.push(event, payload);
  }
  send(message: unknown): boolean {
    const p = this.#process;
    if (p.closed || p.definition.handleInfo === undefined) return false;
    return p.host.mail(p, message, false);
  }
  broadcast(event: string, payload: unknown): PublishResult {
    const p = this.#process;
    return p.host.hub.broadcast(p.topic, event, payload, undefined);
  }
  broadcastFrom(event: string, payload: unknown): PublishResult {
    const p = this.#process;
    return p.host.hub.broadcast(p.topic, event, payload, p);
  }
  onClose(listener: () => void): () => void {
    return this.#process.onClose(listener);
  }
}

/** One channel: its queue, its state, its phase. */
export class ChannelProcess {
  readonly host: Host;
  readonly definition: Definition;
  readonly topic: string;
  readonly joinRef: string | null;
  readonly socket: ChannelSocket<unknown, unknown>;
  #state: unknown = undefined;
  #phase = JOINING;
  #busy = false;
  #queue: unknown[] | undefined = undefined; // [kind, a, b] triples
  #head = 0;
  #held: (string | Uint8Array)[] | undefined = undefined; // pushes made inside join
  #end: ChannelEnd | undefined = undefined;
  #joinPayload: unknown = undefined;
  #listeners: Set<() => void> | undefined = undefined;
  #done: (() => void) | undefined = undefined;
  /** Resolves once terminate has run (set only while it is pending). */
  finished: Promise<void> | undefined = undefined;
  /** Whether the hub has it subscribed to its topic. */
  subscribed = false;

  constructor(host: Host, definition: Definition, topic: string, joinRef: string | null) {
    this.host = host;
    this.definition = definition;
    this.topic = topic;
    this.joinRef = joinRef;
    this.socket = new Facade(this);
  }

  get closed(): boolean {
    return this.#phase >= ENDING;
  }

  /** Its id in `Broadcast.from` (see _hub.ts). */
  uid: string | undefined = undefined;

  intercepts(event: string): boolean {
    return this.definition.intercept?.includes(event) ?? false;
  }

  out(message: Broadcast): boolean {
    return this.host.mail(this, message, true);
  }

  emit(frame: string | Uint8Array): boolean {
    return this.host.emit(frame);
  }

  /** The client joins: run `join`. */
  join(payload: unknown, ref: string | null): void {
    this.#joinPayload = payload;
    this.#deliver(JOIN, payload, ref);
  }

  /** The client pushed an event. */
  in(event: string, payload: unknown, ref: string | null): void {
    this.#deliver(IN, [event, payload], ref);
  }

  /** A mailbox message (`out`: an intercepted broadcast) reached the channel. */
  info(message: unknown, out: boolean): void {
    if (this.#phase >= ENDING) return;
    this.#deliver(out ? OUT : INFO, message, null);
  }

  /** The client leaves: reply ok, then phx_close, then terminate. */
  leave(ref: string | null): void {
    this.#deliver(LEAVE, undefined, ref);
  }

  /** The client joined the same topic again: phx_close now, terminate after any callback. */
  replace(): void {
    if (this.#phase >= ENDING) return;
    const frame = this.#phase === JOINED ? "phx_close" : undefined;
    this.#finish({ type: "replaced" }, frame);
  }

  /** The socket ended: nothing more is sent; terminate after any callback in flight. */
  close(end: ChannelEnd): Promise<void> | undefined {
    if (this.#phase < ENDING) this.#finish(end, undefined);
    return this.finished;
  }

  push(event: string, payload: unknown): boolean {
    if (this.#phase >= ENDING) return false;
    const frame = encodePush(this.joinRef, this.topic, event, payload);
    if (this.#phase === JOINING) {
      (this.#held ??= []).push(frame);
      return true;
    }
    return this.host.emit(frame);
  }

  onClose(listener: () => void): () => void {
    if (this.#phase >= ENDING) {
      queueMicrotask(() => this.#callListener(listener));
      return () => {};
    }
    const listeners = this.#listeners ??= new Set();
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }

  #callListener(listener: () => void): void {
    try {
      listener();
    } catch (error) {
      this.host.report(error, "terminate", this.topic);
    }
  }

  #deliver(kind: Kind, a: unknown, b: unknown): void {
    if (this.#busy || (this.#queue !== undefined && this.#head < this.#queue.length)) {
      if (!this.host.hold()) return;
      (this.#queue ??= []).push(kind, a, b);
      return;
    }
    this.#run(kind, a, b);
  }

  #run(kind: Kind, a: unknown, b: unknown): void {
    this.#busy = true;
    for (;;) {
      if (this.#phase >= ENDING) {
        this.#reject(kind, b);
      } else {
        let pending: PromiseLike<unknown> | undefined;
        try {
          const result = this.#call(kind, a);
          if (isThenable(result)) pending = result;
          else this.#apply(result, kind, b);
        } catch (error) {
          this.#crash(error, kind, b);
        }
        if (pending !== undefined) {
          Promise.resolve(pending).then(
            (value) => this.#resume(value, kind, b),
            (error) => this.#resume(undefined, kind, b, error ?? new Error(String(error))),
          );
          return;
        }
      }
      const queue = this.#queue;
      if (queue === undefined || this.#head >= queue.length) break;
      [kind, a, b] = this.#take(queue);
    }
    this.#idle();
  }

  #resume(result: unknown, kind: Kind, ref: unknown, error?: unknown): void {
    if (error !== undefined) {
      if (this.#phase < ENDING) this.#crash(error, kind, ref);
      else this.host.report(error, NAMES[kind] as never, this.topic);
    } else if (this.#phase < ENDING) {
      try {
        this.#apply(result, kind, ref);
      } catch (e) {
        this.#crash(e, kind, ref);
      }
    } else if (typeof result === "object" && result !== null && "state" in result) {
      // The channel ended meanwhile: keep the last good state, send nothing.
      this.#state = (result as { state: unknown }).state;
    }
    const queue = this.#queue;
    if (queue !== undefined && this.#head < queue.length) {
      const [kind, a, b] = this.#take(queue);
      this.#run(kind, a, b);
      return;
    }
    this.#idle();
  }

  // Nothing left to run: the queue goes; an ending channel terminates now.
  #idle(): void {
    this.#queue = undefined;
    this.#head = 0;
    this.#busy = false;
    if (this.#phase === ENDING) this.#terminate();
  }

  // The next queued event; the consumed front is dropped once it is half the array, so a
  // channel that stays busy does not grow its queue past the socket's maxQueuedEvents.
  #take(queue: unknown[]): [Kind, unknown, unknown] {
    const h = this.#head;
    const event: [Kind, unknown, unknown] = [queue[h] as Kind, queue[h + 1], queue[h + 2]];
    this.#head = h + 3;
    if (this.#head >= 96 && this.#head * 2 >= queue.length) {
      queue.splice(0, this.#head);
      this.#head = 0;
    } else queue[h] = queue[h + 1] = queue[h + 2] = undefined;
    this.host.release(1);
    return event;
  }

  #call(kind: Kind, a: unknown): unknown {
    const d = this.definition;
    switch (kind) {
      case JOIN:
        return d.join(this.topic, a, this.socket);
      case IN: {
        const [event, payload] = a as [string, unknown];
        if (d.handleIn === undefined) {
          return {
            kind: "reply",
            status: "error",
            response: { reason: "unhandled event" },
            state: this.#state,
          };
        }
        return d.handleIn(event, payload, this.#state);
      }
      case INFO:
        return d.handleInfo!(a, this.#state);
      case OUT: {
        const { event, payload } = a as { event: string; payload: unknown };
        if (d.handleOut === undefined) {
          this.push(event, payload);
          return { kind: "noreply", state: this.#state };
        }
        return d.handleOut(event, payload, this.#state);
      }
      default:
        return { kind: "leave", state: this.#state };
    }
  }

  // Act on a result (throws on an invalid one: the caller crashes the channel).
  #apply(result: unknown, kind: Kind, ref: unknown): void {
    const r = result as { kind?: string; state?: unknown };
    if (kind === JOIN) return this.#joined(result as JoinResult<unknown>, ref as string | null);
    switch (r?.kind) {
      case "noreply":
        this.#state = r.state;
        return;
      case "reply": {
        if (kind !== IN) break;
        const { status, response } = r as { status: unknown; response: unknown };
        if (typeof status !== "string") break;
        const frame = encodeReply(this.joinRef, ref as string | null, this.topic, status, response);
        this.#state = r.state;
        if (ref !== null) this.host.emit(frame);
        return;
      }
      case "stop": {
        const { reason, reply } = r as {
          reason: unknown;
          reply?: { status: string; response: unknown };
        };
        if (typeof reason !== "string" && !(reason instanceof Error)) break;
        const frame = reply !== undefined && kind === IN && ref !== null
          ? encodeReply(this.joinRef, ref as string, this.topic, reply.status, reply.response)
          : undefined;
        this.#state = r.state;
        if (frame !== undefined) this.host.emit(frame);
        const clean = reason === "normal" || reason === "shutdown";
        this.#finish({ type: "stop", reason }, clean ? "phx_close" : "phx_error");
        return;
      }
      case "leave": {
        if (kind !== LEAVE) break;
        if (ref !== null) {
          this.host.emit(encodeReply(this.joinRef, ref as string, this.topic, "ok", {}));
        }
        this.#finish({ type: "leave" }, "phx_close");
        return;
      }
    }
    const expected = kind === IN ? "reply(), noreply() or stop()" : "noreply() or stop()";
    throw new TypeError(
      `Invalid result from ${NAMES[kind]}: expected ${expected}, got ${showValue(result)}`,
    );
  }

  #joined(result: JoinResult<unknown>, ref: string | null): void {
    const host = this.host;
    if (result?.kind === "joined") {
      const frame = encodeReply(this.joinRef, ref, this.topic, "ok", result.response);
      this.#state = result.state;
      this.#phase = JOINED;
      host.emit(frame);
      const held = this.#held;
      this.#held = undefined;
      if (held !== undefined) { for (const f of held) host.emit(f); }
      const payload = this.#joinPayload;
      this.#joinPayload = undefined;
      host.hub.subscribe(this, payload, (this.definition.intercept?.length ?? 0) > 0);
      return;
    }
    if (result?.kind === "refused") {
      const frame = encodeReply(this.joinRef, ref, this.topic, "error", result.response);
      host.emit(frame);
      this.#held = undefined;
      this.#finish(undefined, undefined);
      return;
    }
    throw new TypeError(
      `Invalid result from join: expected joined() or refused(), got ${showValue(result)}`,
    );
  }

  #crash(error: unknown, kind: Kind, ref: unknown): void {
    this.host.report(error, NAMES[kind] as ChannelErrorSource, this.topic);
    if (this.#phase >= ENDING) return;
    if (this.#phase === JOINING) {
      this.host.emit(encodeReply(this.joinRef, ref as string | null, this.topic, "error", {
        reason: "join crashed",
      }));
      this.#held = undefined;
      this.#finish(undefined, undefined);
      return;
    }
    this.#finish({ type: "error", error }, "phx_error");
  }

  // The end is decided: closed now (frame, listeners, unsubscribed, forgotten); queued
  // pushes get the "unmatched topic" reply; terminate once no callback is in flight.
  #finish(end: ChannelEnd | undefined, frame: string | undefined): void {
    const joined = this.#phase === JOINED;
    this.#phase = ENDING;
    this.#joinPayload = undefined;
    this.#end = joined ? end : undefined;
    if (frame !== undefined) {
      // phx_close and phx_error carry the join ref as their ref too, as Phoenix sends them.
      this.host.emit(JSON.stringify([this.joinRef, this.joinRef, this.topic, frame, {}]));
    }
    if (this.subscribed) this.host.hub.unsubscribe(this);
    this.host.forget(this);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) { for (const l of listeners) this.#callListener(l); }
    const queue = this.#queue;
    if (queue !== undefined) {
      let dropped = 0;
      for (let i = this.#head; i < queue.length; i += 3, dropped++) {
        if (end?.type !== "closed") this.#reject(queue[i] as Kind, queue[i + 2]);
      }
      this.#queue = undefined;
      this.#head = 0;
      this.host.release(dropped);
    }
    if (!this.#busy) this.#terminate();
    else if (this.#end !== undefined && this.definition.terminate !== undefined) {
      this.finished = new Promise((resolve) => this.#done = resolve);
    }
  }

  // An event that reaches a channel that has ended.
  #reject(kind: Kind, ref: unknown): void {
    if (ref === null || ref === undefined) return;
    if (kind === IN || kind === JOIN) {
      this.host.emit(encodeReply(null, ref as string, this.topic, "error", UNMATCHED));
    } else if (kind === LEAVE) {
      this.host.emit(encodeReply(null, ref as string, this.topic, "ok", {}));
    }
  }

  #terminate(): void {
    if (this.#phase === DONE) return;
    this.#phase = DONE;
    const end = this.#end, terminate = this.definition.terminate;
    if (end !== undefined && terminate !== undefined) {
      try {
        const settled = terminate.call(this.definition, end, this.#state);
        if (isThenable(settled)) {
          this.finished ??= new Promise((resolve) => this.#done = resolve);
          Promise.resolve(settled).then(() => this.#settled(), (error) => {
            this.host.report(error, "terminate", this.topic);
            this.#settled();
          });
          return;
        }
      } catch (error) {
        this.host.report(error, "terminate", this.topic);
      }
    }
    this.#settled();
  }

  #settled(): void {
    const done = this.#done;
    this.#done = undefined;
    this.host.gone(this);
    done?.();
  }

  // The pub/sub subscriber side (see _hub.ts): broadcasts on the channel's topic.

  /** A fastlane frame, encoded once per publish. */
  sendFrame(data: string | Uint8Array): boolean {
    if (excluded() === this) return true;
    return this.host.emit(data);
  }

  /** A broadcast (on the mailbox lane) or a history delivery: the hub makes it a frame. */
  send(message: unknown): boolean {
    return this.host.hub.receive(this, message);
  }
}
