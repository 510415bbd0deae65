// The slow-peer rule (`maxBufferedBytes`), in one place for every adapter. The engine looks
// before queuing a message, once `checkBufferedEvery` bytes (at most 64 KiB) were queued since
// its last look. What waits for the peer minus what was queued since that last look is what
// the peer left unread from before it; more than `maxBufferedBytes` of that closes with 1008.
//
// So the message being queued, and those queued since the last look, never count: one message
// of any size does not close a peer that takes it. A peer that stops reading is closed at the
// look after the one where more than `maxBufferedBytes` waited, before the message at hand is
// queued: it holds at most maxBufferedBytes + 2 × (checkBufferedEvery + the largest message
// sent), plus the adapter's frame headers.

import { utf8Length } from "./utf8_length.ts";
import type { ResolvedEngineOptions } from "./options.ts";
import { withCode } from "./errors.ts";

/** Bytes a text message takes on the wire: exact for long ones, UTF-16 units for short ones. */
export function textBytes(text: string): number {
  return text.length > 4096 ? utf8Length(text) : text.length;
}

/**
 * Look at the peer: `buffered` bytes wait (the transport's `bufferedAmount()`), `queued` of
 * them were queued since the last look.
 *
 * @returns The error to close with (1008), or `undefined` while the peer keeps up.
 */
export function slowPeer(
  buffered: number,
  queued: number,
  { maxBufferedBytes }: ResolvedEngineOptions,
): RangeError | undefined {
  const unread = buffered - queued;
  if (unread <= maxBufferedBytes) return undefined;
  return withCode(
    new RangeError(
      `Cannot send: ${unread} bytes queued earlier still wait for the peer, more than maxBufferedBytes ${maxBufferedBytes}`,
    ),
    "SLOW_PEER",
  );
}
