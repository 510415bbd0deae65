// The part of npm:ws the Node adapter uses, typed here: ws ships no types of its own, and
// @types/ws would pull a second @types/node into the published type graph.

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Buffer } from "node:buffer";
import * as ws from "npm:ws@^8";

/** A server-side `ws` socket. */
export interface WsSocket {
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "ping" | "pong", listener: (data: Buffer) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "close", listener: (code: number, reason: Buffer) => void): void;
  send(data: string | Uint8Array, options?: { binary?: boolean }): void;
  ping(data: Uint8Array): void;
  pong(data: Uint8Array): void;
  close(code: number, reason: string): void;
  readonly bufferedAmount: number;
}

/** The options of a `noServer` `ws` server. */
export interface WsServerOptions {
  noServer: true;
  clientTracking: boolean;
  maxPayload: number;
  /** ws's own limit on the frames of one message (0: none). */
  maxFragments: number;
  perMessageDeflate: boolean | Record<string, unknown>;
  handleProtocols(offered: Set<string>, request: IncomingMessage): string | false;
  /** Milliseconds a peer has to answer a close frame before its socket is destroyed. */
  closeTimeout: number;
}

/** A `noServer` `ws` server: it only completes upgrades. */
export interface WsServer {
  on(
    event: "headers",
    listener: (lines: string[], request: IncomingMessage) => void,
  ): void;
  handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (socket: WsSocket) => void,
  ): void;
}

/** `ws`'s `WebSocketServer` class. */
export const WebSocketServer: new (options: WsServerOptions) => WsServer =
  (ws as unknown as { WebSocketServer: new (options: WsServerOptions) => WsServer })
    .WebSocketServer;
