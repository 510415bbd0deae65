// Wait for a child process to announce itself on stderr (a listening address), then keep
// draining its stderr so that it never blocks.

/**
 * Read `child`'s stderr until `pattern` matches, within `ms`. On failure the child is killed
 * and awaited, and the error says what was seen. `drained` settles once the child's stderr ends.
 */
export async function awaitStderr(
  child: Deno.ChildProcess,
  pattern: RegExp,
  ms: number,
  what: string,
): Promise<{ match: RegExpMatchArray; drained: Promise<void> }> {
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  let seen = "";
  let match: RegExpMatchArray | null = null;
  try {
    while (match === null) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${what} exited before it was ready: ${seen.slice(-2000)}`);
      seen += value;
      match = seen.match(pattern);
    }
  } catch (error) {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await reader.cancel();
    await child.status;
    throw error;
  }
  clearTimeout(timer);
  const drained = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // closed
    }
  })();
  return { match, drained };
}
