// Epoch names for the history backends.

/** A fresh, random epoch name (12 hex digits). */
export function newEpoch(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
}
