// The Phoenix channel wire format, version 2.0.0 (the `phoenix` client's default): text frames
// are JSON arrays `[join_ref, ref, topic, event, payload]`; binary frames start with a kind
// byte (push 0, reply 1, broadcast 2), then the lengths and bytes of the refs, topic and
// event, then the raw payload. Plain functions, no runtime API.

/**
 * One channel message, as it travels in either direction. A binary frame's payload is a
 * `Uint8Array`; a text frame's payload is any JSON value.
 */
export interface Message {
  /** The ref of the join this message belongs to, or `null` (heartbeats, broadcasts). */
  readonly joinRef: string | null;
  /** The client's ref for a push that expects a reply, or `null`. */
  readonly ref: string | null;
  /** The channel's topic (`"phoenix"` for heartbeats). */
  readonly topic: string;
  /** The event, such as `"phx_join"` or an application's own. */
  readonly event: string;
  /** A JSON value, or the bytes of a binary frame. */
  readonly payload: unknown;
}

/** The first byte of a binary frame. */
export const BinaryKind = {
  /** A push: from the client (with a ref), or from the server (without one). */
  Push: 0,
  /** A reply to a client's push: its event field holds the reply's status. */
  Reply: 1,
  /** A broadcast from the server: no refs. */
  Broadcast: 2,
} as const;

const LIMIT = 255;
const utf8 = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true });

function malformed(why: string): TypeError {
  return new TypeError(`Cannot decode channel message: ${why}`);
}

function isRef(value: unknown): value is string | null {
  return value === null || typeof value === "string";
}

/**
 * Decode a frame a client sent: a text frame's JSON array, or a binary push (kind 0).
 *
 * @param data The frame: a `string` (text) or a `Uint8Array` (binary).
 * @returns The message; a binary push's payload is a `Uint8Array` (a view of `data`).
 * @throws {TypeError} When the frame is not a channel message (not JSON, not an array of
 *   five, refs that are neither strings nor `null`, a topic or event that is not a string,
 *   a binary frame that is not a push or whose lengths do not fit).
 *
 * @example Decode a join
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage } from "@websock/websock/channels";
 * const message = decodeMessage('["1","1","room:lobby","phx_join",{}]');
 * assert.deepEqual(message, {
 *   joinRef: "1",
 *   ref: "1",
 *   topic: "room:lobby",
 *   event: "phx_join",
 *   payload: {},
 * });
 * ```
 */
export function decodeMessage(data: string | Uint8Array): Message {
  if (typeof data !== "string") return decodeBinary(data);
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw malformed("the text frame is not JSON");
  }
  if (!Array.isArray(parsed) || parsed.length !== 5) {
    throw malformed("expected [join_ref, ref, topic, event, payload]");
  }
  const [joinRef, ref, topic, event, payload] = parsed;
  if (!isRef(joinRef) || !isRef(ref)) throw malformed("join_ref and ref must be strings or null");
  if (typeof topic !== "string" || typeof event !== "string") {
    throw malformed("topic and event must be strings");
  }
  return { joinRef, ref, topic, event, payload };
}

function decodeBinary(data: Uint8Array): Message {
  if (data.byteLength < 5) throw malformed(`a binary frame of ${data.byteLength} bytes`);
  if (data[0] !== BinaryKind.Push) {
    throw malformed(`binary frames from a client are pushes (kind 0), not kind ${data[0]}`);
  }
  let offset = 5;
  const take = (length: number): string => {
    if (offset + length > data.byteLength) throw malformed("the lengths overrun the frame");
    const start = offset;
    offset += length;
    try {
      return strict.decode(data.subarray(start, offset));
    } catch {
      throw malformed("a ref, topic or event is not UTF-8");
    }
  };
  const joinRef = take(data[1]), ref = take(data[2]), topic = take(data[3]), event = take(data[4]);
  return {
    joinRef: joinRef === "" ? null : joinRef,
    ref: ref === "" ? null : ref,
    topic,
    event,
    payload: data.subarray(offset),
  };
}

function field(text: string, what: string): Uint8Array {
  const bytes = utf8.encode(text);
  if (bytes.byteLength > LIMIT) {
    throw new RangeError(
      `Cannot encode binary channel message: ${what} is ${bytes.byteLength} bytes, over ${LIMIT}`,
    );
  }
  return bytes;
}

function frame(kind: number, fields: Uint8Array[], payload: Uint8Array): Uint8Array {
  let length = 1 + fields.length + payload.byteLength;
  for (const f of fields) length += f.byteLength;
  const out = new Uint8Array(length);
  out[0] = kind;
  let offset = 1;
  for (const f of fields) out[offset++] = f.byteLength;
  for (const f of fields) {
    out.set(f, offset);
    offset += f.byteLength;
  }
  out.set(payload, offset);
  return out;
}

/**
 * Encode a push from the server (an event on a joined channel, `ref` `null`): a JSON text
 * frame, or a binary push frame (kind 0) when the payload is a `Uint8Array`.
 *
 * @param joinRef The join the push belongs to (the client drops pushes of an older join).
 * @param topic The channel's topic.
 * @param event The event.
 * @param payload A JSON value, or bytes.
 * @returns The frame.
 * @throws {RangeError} When a binary frame's join ref, topic or event is over 255 bytes.
 *
 * @example A text push
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePush } from "@websock/websock/channels";
 * assert.equal(
 *   encodePush("1", "room:lobby", "new_msg", { body: "hi" }),
 *   '["1",null,"room:lobby","new_msg",{"body":"hi"}]',
 * );
 * ```
 */
export function encodePush(
  joinRef: string | null,
  topic: string,
  event: string,
  payload: unknown,
): string | Uint8Array {
  if (payload instanceof Uint8Array) {
    const fields = [field(joinRef ?? "", "join_ref"), field(topic, "topic"), field(event, "event")];
    return frame(BinaryKind.Push, fields, payload);
  }
  return JSON.stringify([joinRef, null, topic, event, payload ?? null]);
}

/**
 * Encode a reply to a client's push: `phx_reply` with `{ status, response }` as JSON, or a
 * binary reply frame (kind 1, the status in the event field) when the response is a
 * `Uint8Array`.
 *
 * @param joinRef The join the push belonged to.
 * @param ref The push's ref.
 * @param topic The channel's topic.
 * @param status `"ok"`, `"error"` or another status the client listens for.
 * @param response A JSON value, or bytes.
 * @returns The frame.
 * @throws {RangeError} When a binary frame's refs, topic or status are over 255 bytes.
 *
 * @example Reply to a heartbeat
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeReply } from "@websock/websock/channels";
 * assert.equal(
 *   encodeReply(null, "7", "phoenix", "ok", {}),
 *   '[null,"7","phoenix","phx_reply",{"status":"ok","response":{}}]',
 * );
 * ```
 */
export function encodeReply(
  joinRef: string | null,
  ref: string | null,
  topic: string,
  status: string,
  response: unknown,
): string | Uint8Array {
  if (response instanceof Uint8Array) {
    const fields = [
      field(joinRef ?? "", "join_ref"),
      field(ref ?? "", "ref"),
      field(topic, "topic"),
      field(status, "status"),
    ];
    return frame(BinaryKind.Reply, fields, response);
  }
  return JSON.stringify([joinRef, ref, topic, "phx_reply", { status, response: response ?? {} }]);
}

/**
 * Encode a broadcast (no refs): a JSON text frame, or a binary broadcast frame (kind 2) when
 * the payload is a `Uint8Array`.
 *
 * @param topic The topic.
 * @param event The event.
 * @param payload A JSON value, or bytes.
 * @returns The frame.
 * @throws {RangeError} When a binary frame's topic or event is over 255 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBroadcast } from "@websock/websock/channels";
 * assert.equal(
 *   encodeBroadcast("room:lobby", "new_msg", { body: "hi" }),
 *   '[null,null,"room:lobby","new_msg",{"body":"hi"}]',
 * );
 * ```
 */
export function encodeBroadcast(
  topic: string,
  event: string,
  payload: unknown,
): string | Uint8Array {
  if (payload instanceof Uint8Array) {
    return frame(BinaryKind.Broadcast, [field(topic, "topic"), field(event, "event")], payload);
  }
  return JSON.stringify([null, null, topic, event, payload ?? null]);
}
