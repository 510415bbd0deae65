// The telemetry hook: what every adapter tells about its connections, in the same way, and
// the error hook's types. Runtime-neutral, and free when nobody listens: the engine counts
// messages and bytes only for a connection whose options have a `telemetry`.

import type { Connection, RemoteAddr, TerminateReason } from "../websock.ts";

/** Which callback (or part of the engine) an error came from, as the error hook is told. */
export type ErrorSource =
  | "init"
  | "handleIn"
  | "handleControl"
  | "handleInfo"
  | "terminate"
  | "upgrade"
  | "transport";

/** What the error hook is told besides the error itself. */
export interface ErrorContext {
  /** Where the error came from. */
  readonly source: ErrorSource;
  /** The connection it happened on, when there is one. */
  readonly connection?: Connection<unknown>;
}

/** The handler callbacks whose duration {@linkcode Telemetry.onCallbackDuration} is told. */
export type CallbackName = "init" | "handleIn" | "handleControl" | "handleInfo" | "terminate";

/**
 * Messages and payload bytes of one direction of a connection, by kind. A text or binary
 * message counts once however many frames carried it; text bytes are UTF-8 bytes. Close frames
 * are not counted here, and neither are the pongs a server answers pings with by itself.
 */
export interface Traffic {
  /** Text messages. */
  readonly text: number;
  /** UTF-8 bytes of the text messages. */
  readonly textBytes: number;
  /** Binary messages. */
  readonly binary: number;
  /** Bytes of the binary messages. */
  readonly binaryBytes: number;
  /** Pings (received: adapters that see them, Node and Bun; sent: pushed and keep-alive ones). */
  readonly ping: number;
  /** Payload bytes of the pings. */
  readonly pingBytes: number;
  /** Pongs (adapters that see them: Node and Bun). */
  readonly pong: number;
  /** Payload bytes of the pongs. */
  readonly pongBytes: number;
}

/** A connection's traffic so far: live during the connection, final once it stopped. */
export interface ConnectionStats {
  /** What the peer sent while the connection was open (not what came after the end was decided). */
  readonly received: Traffic;
  /** What the handler sent. */
  readonly sent: Traffic;
}

/** A close frame: its code and reason. */
export interface CloseFrame {
  /** The close code. */
  readonly code: number;
  /** The close reason. */
  readonly reason: string;
}

/** Told when a connection opens, before `init` runs. */
export interface ConnectionStartEvent {
  /** The connection's handle. */
  readonly connection: Connection<unknown>;
  /** The URL of the upgrade request. */
  readonly url: string;
  /** The negotiated subprotocol, or `""`. */
  readonly protocol: string;
  /** The peer's address, when the server knows it. */
  readonly remoteAddr: RemoteAddr | null;
  /** The connection's counters, which keep counting until it stops. */
  readonly stats: ConnectionStats;
}

/** Told once a connection is over (after `terminate` settled, if it ran). */
export interface ConnectionStopEvent {
  /** The connection's handle (the same as at the start). */
  readonly connection: Connection<unknown>;
  /** Milliseconds from the start, on the options' clock. */
  readonly duration: number;
  /** What went in and out (the same object as at the start, now final). */
  readonly stats: ConnectionStats;
  /** The close frame the server sent first, or `null` when the peer closed first. */
  readonly closeSent: CloseFrame | null;
  /**
   * The close code and reason the peer sent when it closed first, as the adapter reports them
   * (1005: a close frame without a code; 1006: the connection dropped without a close frame),
   * or `null` when the server closed first (the peer's answer to that is not kept). One of
   * `closeSent` and `closeReceived` is set, unless the connection never opened.
   */
  readonly closeReceived: CloseFrame | null;
  /** Why the connection ended, as `terminate` is told. */
  readonly reason: TerminateReason;
}

/** Told when an upgrade request is refused. */
export interface UpgradeRefusedEvent {
  /** The HTTP status of the refusal. */
  readonly status: number;
  /** Why, in plain words (for a refusal by the `upgrade` hook: "Refused by the upgrade hook"). */
  readonly reason: string;
}

/** Told of every error the error hook is told of. */
export interface CallbackErrorEvent extends ErrorContext {
  /** The error. */
  readonly error: unknown;
}

/** Told when a mailbox message is dropped. */
export interface MailboxDropEvent {
  /** The connection whose mailbox dropped it. */
  readonly connection: Connection<unknown>;
  /**
   * `"full"`: the connection's queue was full (the connection then closes with 1013);
   * `"closed"`: the connection was closing or closed; `"unhandled"`: the handler has no
   * `handleInfo`.
   */
  readonly reason: "full" | "closed" | "unhandled";
}

/** Told when a peer that does not read is closed with 1008. */
export interface SlowPeerEvent {
  /** The connection. */
  readonly connection: Connection<unknown>;
  /** Bytes waiting for the peer when it was found out. */
  readonly buffered: number;
  /** The `maxBufferedBytes` limit it went over. */
  readonly limit: number;
}

/**
 * What a server tells about its connections (the `telemetry` option): every method is optional
 * and called synchronously; a throw is caught and ignored. Every adapter tells the same, from
 * the engine and the shared upgrade checks. A connection of a server without `telemetry` counts
 * nothing and allocates nothing for it.
 *
 * `Metrics` (`@websock/websock/telemetry`) and `otelTelemetry()` (`@websock/websock/otel`)
 * implement it; so can a plain object.
 *
 * @example Log every connection's end
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, type WebSock } from "@websock/websock";
 * import type { Telemetry } from "@websock/websock/engine";
 * import { TestConnection } from "@websock/websock/testing";
 *
 * const ends: string[] = [];
 * const telemetry: Telemetry = {
 *   onConnectionStop({ stats, reason }) {
 *     ends.push(`${reason.type}: ${stats.received.text} in, ${stats.sent.text} out`);
 *   },
 * };
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 * const conn = await TestConnection.start(Echo, { telemetry });
 * await conn.receive("hi");
 * await conn.close(1000, "");
 * assert.deepEqual(ends, ["remote: 1 in, 1 out"]);
 * ```
 */
export interface Telemetry {
  /** A connection opened (before `init`). */
  onConnectionStart?(event: ConnectionStartEvent): void;
  /** A connection is over (after `terminate`). */
  onConnectionStop?(event: ConnectionStopEvent): void;
  /** An upgrade request was refused with a 4xx (or 500 when the upgrade hook threw). */
  onUpgradeRefused?(event: UpgradeRefusedEvent): void;
  /** A callback threw or returned garbage, or another error reached the error hook. */
  onCallbackError?(event: CallbackErrorEvent): void;
  /** A mailbox message was dropped. */
  onMailboxDrop?(event: MailboxDropEvent): void;
  /** A peer that does not read was closed with 1008. */
  onSlowPeer?(event: SlowPeerEvent): void;
  /**
   * How long one handler callback took, in milliseconds (for an async callback: until it
   * settled). Defining it times every callback with `performance.now()`: it costs two clock
   * reads per message (no allocation).
   */
  onCallbackDuration?(callback: CallbackName, ms: number): void;
}
