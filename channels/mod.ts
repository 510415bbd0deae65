/**
 * Phoenix channels on WebSock: the channel protocol the official `phoenix` npm client speaks
 * (`vsn=2.0.0`: JSON `[join_ref, ref, topic, event, payload]` frames and the binary push,
 * reply and broadcast frames), served by a plain WebSock handler, so it runs on every
 * adapter (Deno, Node, Bun), under `upgrade()` in one's own routing, and in
 * `TestConnection`. The client gives reconnects with backoff, heartbeats, channel rejoins,
 * push timeouts and presence sync for free.
 *
 * {@linkcode channels} takes routes (topic patterns such as `"room:*"`) to
 * {@linkcode Channel} definitions: `join` returns {@linkcode joined} or {@linkcode refused};
 * `handleIn` returns {@linkcode reply}, {@linkcode noreply} or {@linkcode stop};
 * `handleInfo` gets the channel's mail; `terminate` is told why it ended. The callbacks of a
 * joined channel never overlap (async ones included) and see its events in order; each
 * channel of a socket runs on its own, and one that crashes ends alone (`phx_error`: the
 * client rejoins it), the socket and its other channels going on.
 *
 * Broadcasts go through a {@linkcode PubSub} (any backend) on its fastlane: one encode per
 * publish for all the subscribers of a node.
 *
 * This module is runtime-neutral and has no dependencies.
 *
 * @example A chat room, and the phoenix client that joins it
 * ```ts
 * import { type Channel, type ChannelSocket, channels, joined, noreply, refused, reply }
 *   from "@websock/websock/channels";
 *
 * type User = { name: string };
 * type Room = { socket: ChannelSocket<never, User> };
 *
 * const Room = {
 *   join(topic, _payload, socket) {
 *     if (topic === "room:secret") return refused("unauthorized");
 *     return joined({ socket }, { hello: socket.assigns.name });
 *   },
 *   handleIn(event, payload, state) {
 *     if (event === "ping") return reply("ok", { pong: true }, state);
 *     state.socket.broadcast("shout", { from: state.socket.assigns.name, payload });
 *     return noreply(state);
 *   },
 * } satisfies Channel<Room, never, User>;
 *
 * export const app = channels<User>({ "room:*": Room }, {
 *   connect: (params, { token }) =>
 *     token === "secret" ? { name: params.name ?? "anon" } : new Response("Forbidden", { status: 403 }),
 * });
 * // Deno.serve(websockHandler(app, app.adapterOptions));
 * //
 * // In the browser:
 * //   const socket = new Socket("/socket", { params: { name: "ann" }, authToken: "secret" });
 * //   socket.connect();
 * //   const room = socket.channel("room:lobby");
 * //   room.on("shout", (message) => console.log(message));
 * //   room.join().receive("ok", (hello) => room.push("ping", {}).receive("ok", console.log));
 * ```
 *
 * @module
 */

export * from "./channels.ts";
export * from "./socket_state.ts";
export * from "./channel.ts";
export * from "./serializer.ts";
export type {
  Backend,
  PublishResult,
  PubSub,
  PubSubOptions,
  SubscribeOptions,
  Subscriber,
} from "../pubsub/pubsub.ts";
export type {
  Delivery,
  HistoryBackend,
  HistoryGap,
  HistoryMessage,
  HistoryPage,
  HistoryPubSub,
  HistoryPubSubOptions,
  HistorySubscribeOptions,
  Position,
} from "../pubsub/mod.ts";
export type { Clock } from "../engine/options.ts";
export type { UpgradeResponse } from "../engine/adapter_options.ts";
export type {
  BinaryMessage,
  CallbackResult,
  CloseDetail,
  Connection,
  ConnectionInfo,
  ControlFrame,
  ControlMessage,
  OkResult,
  Outbound,
  OutMessage,
  PushResult,
  RemoteAddr,
  Result,
  StopReason,
  StopResult,
  TerminateReason,
  TextMessage,
  WebSock,
} from "../websock.ts";
