// The docs, kept true (issue 23): the README's map of the guides names every deno.json entry,
// each with a guide that exists; every relative link of the README and docs/ reaches a file and
// a heading; their TypeScript blocks run: those that start no server under `deno test --doc`
// (sanitizers on), those that start one in a child process that this test talks to, as the
// `<!-- dialog: [...] -->` line before the block says, and stops; `deno doc --html` builds the
// entries without warnings (.ci/doc_html.ts). (tests/types_test.ts type-checks every block.)

import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const entries = config.exports as Record<string, string>;

/** README.md and docs/*.md, as paths from the repository's root. */
async function pages(): Promise<string[]> {
  const docs: string[] = [];
  for await (const entry of Deno.readDir(new URL("docs/", root))) {
    if (entry.isFile && entry.name.endsWith(".md")) docs.push(`docs/${entry.name}`);
  }
  return ["README.md", ...docs.sort()];
}

/** A step of a server block's dialog (see `talk`). */
type Step =
  | ["open", string]
  | ["send", string]
  | ["receive", string]
  | ["ignore", string]
  | ["closed", number]
  | ["get", string, number, string?]
  | ["upgrade", string, number]
  | ["signal", Deno.Signal];

interface Block {
  readonly page: string;
  /** The line of the opening fence, 1-based, as `deno check --doc-only` numbers blocks. */
  readonly start: number;
  readonly end: number;
  readonly code: string;
  readonly server: "run" | "serve" | false;
  readonly dialog: Step[] | undefined;
}

/** The TypeScript blocks of a page that are not marked `ignore`. */
function blocks(page: string, text: string): Block[] {
  const lines = text.split("\n");
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)(.*)$/.exec(lines[i]);
    if (!fence) continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== "```") end++;
    const typescript = fence[1] === "ts" || fence[1] === "typescript";
    if (typescript && !/\bignore\b/.test(fence[2])) {
      const code = lines.slice(i + 1, end).join("\n");
      let before = i - 1;
      while (before >= 0 && lines[before].trim() === "") before--;
      const comment = /^<!-- dialog: (.*) -->$/.exec(lines[before] ?? "");
      const server = /^export default\b/m.test(code)
        ? "serve"
        : /\bDeno\.serve\(/.test(code)
        ? "run"
        : false;
      found.push({
        page,
        start: i + 1,
        end: end + 1,
        code,
        server,
        dialog: comment ? JSON.parse(comment[1]) : undefined,
      });
    }
    i = end;
  }
  return found;
}

async function allBlocks(): Promise<Block[]> {
  const all: Block[] = [];
  for (const page of await pages()) {
    all.push(...blocks(page, await Deno.readTextFile(new URL(page, root))));
  }
  return all;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replaceAll(" ", "-");
}

async function anchors(path: string): Promise<Set<string>> {
  const text = await Deno.readTextFile(new URL(path, root));
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

Deno.test("README: the map of the guides names every deno.json entry, each with a guide", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const section = readme.split(/^## Guides$/m)[1]?.split(/^## /m)[0];
  assert.ok(section, "README.md has no '## Guides' section");
  const rows = section.split("\n").filter((line) => line.startsWith("| `") || /^\| \w/.test(line))
    .map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim()));
  const named = new Map<string, string[]>();
  for (const row of rows) {
    const entry = /^`([^`]+)`/.exec(row[0]);
    if (entry) named.set(entry[1], row);
  }
  for (const [key, file] of Object.entries(entries)) {
    const row = named.get(key);
    assert.ok(row, `README.md's map of the guides has no row for the entry ${key} (${file})`);
    assert.ok(
      !row[0].includes("(coming)"),
      `the entry ${key} exists: drop "(coming)" from its row`,
    );
    const guide = row.at(-1)!;
    const links = [...guide.matchAll(/\]\(([^)#]+)(?:#[^)]*)?\)/g)].map((m) => m[1]);
    let guides = /@module/.test(guide) ? 1 : 0;
    for (const link of links) {
      const stat = await Deno.stat(new URL(link, root)).catch(() => null);
      // A page its entry's helper is still writing may be linked as "(coming)".
      assert.ok(
        stat?.isFile || guide.includes("(coming)"),
        `the guide of ${key}, ${link}, does not exist`,
      );
      if (stat?.isFile) guides++;
    }
    assert.ok(guides > 0, `the row of ${key} names no guide that exists`);
    // Every entry's @module doc is its guide on JSR: more than a line.
    const source = await Deno.readTextFile(new URL(file, root));
    const moduleDoc = /^\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? "";
    assert.match(moduleDoc, /@module/, `${file} does not start with its @module doc`);
    assert.match(moduleDoc, /@example/, `${file}'s @module doc has no example`);
  }
  for (const [key, row] of named) {
    if (!(key in entries)) {
      assert.ok(row[0].includes("(coming)"), `README.md's map names ${key}, which is no entry`);
    }
  }
});

Deno.test("README: a front page of at most 300 lines (the topics live in docs/)", async () => {
  const lines = (await Deno.readTextFile(new URL("README.md", root))).split("\n").length - 1;
  assert.ok(lines <= 300, `README.md has ${lines} lines: move a topic into docs/`);
});

Deno.test("docs: every page of docs/ is linked from the README", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  for (const page of (await pages()).slice(1)) {
    assert.ok(readme.includes(`](${page}`), `README.md links nowhere to ${page}`);
  }
});

Deno.test("docs: every relative link of the README and docs/ reaches a file and a heading", async () => {
  const broken: string[] = [];
  for (const page of await pages()) {
    const lines = (await Deno.readTextFile(new URL(page, root))).split("\n");
    for (const [n, line] of lines.entries()) {
      if (line.includes("(coming)")) continue; // a guide that its entry will bring
      for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split("#");
        const file = path === "" ? page : new URL(path, new URL(page, root)).pathname
          .slice(rootPath.length);
        const stat = await Deno.stat(new URL(file, root)).catch(() => null);
        if (!stat) broken.push(`${page}:${n + 1}: ${target}: no such file`);
        else if (anchor && file.endsWith(".md") && !(await anchors(file)).has(anchor)) {
          broken.push(`${page}:${n + 1}: ${target}: no such heading in ${file}`);
        }
      }
    }
  }
  assert.deepEqual(broken, []);
});

/**
 * A directory inside the repository (so that `@websock/websock` resolves), removed after:
 * `deno task test` may write only there (`--allow-write=tests`).
 */
async function scratch(): Promise<string> {
  return await Deno.makeTempDir({ dir: `${rootPath}tests`, prefix: ".docs_run_" });
}

Deno.test("docs: the blocks that start no server run under deno test --doc", async () => {
  const dir = await scratch();
  try {
    const all = await allBlocks();
    const files: string[] = [];
    for (const page of await pages()) {
      // The same page with its server blocks marked `ignore`: line numbers stay the same.
      const lines = (await Deno.readTextFile(new URL(page, root))).split("\n");
      for (const block of all) {
        if (block.page === page && block.server) lines[block.start - 1] += " ignore";
      }
      const file = `${dir}/${page.replace("/", "_")}`;
      await Deno.writeTextFile(file, lines.join("\n"));
      files.push(file);
    }
    const runnable = all.filter((block) => !block.server).length;
    assert.ok(runnable >= 8, `only ${runnable} runnable blocks`);
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--doc",
        "--no-check", // tests/types_test.ts type-checks them
        "--lock=deno.lock",
        "--sanitize-ops",
        "--sanitize-resources",
        "--allow-all",
        ...files,
      ],
      cwd: rootPath,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    assert.ok(output.success, text);
    const passed = /ok \| (\d+) passed/.exec(text);
    assert.equal(Number(passed?.[1]), runnable, text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Read a child's stream as text into `sink.text`, until it ends. */
async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) sink.text += chunk;
}

async function until<T>(what: string, get: () => T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The status a server answers a valid WebSocket upgrade of `path` with (over raw TCP). */
async function upgradeStatus(port: number, path: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
      `Sec-WebSocket-Version: 13\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    const buffer = new Uint8Array(1024);
    const n = await conn.read(buffer);
    const line = new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split("\r\n")[0];
    const status = /^HTTP\/1\.1 (\d{3})/.exec(line);
    assert.ok(status, `not an HTTP response: ${line}`);
    return Number(status[1]);
  } finally {
    conn.close();
  }
}

/** Run a block's dialog against the server listening on `port`. */
async function talk(port: number, steps: Step[], child: Deno.ChildProcess): Promise<void> {
  let socket: WebSocket | undefined;
  const received: string[] = [];
  let closed: CloseEvent | undefined;
  let ignore: RegExp | undefined;
  try {
    for (const step of steps) {
      switch (step[0]) {
        case "open": {
          socket = new WebSocket(`ws://127.0.0.1:${port}${step[1]}`);
          socket.onmessage = ({ data }) => {
            if (!ignore?.test(String(data))) received.push(String(data));
          };
          socket.onclose = (event) => (closed = event);
          const open = socket;
          await until("the socket to open", () => {
            if (closed) throw new Error(`Closed before opening: ${closed.code}`);
            return open.readyState === WebSocket.OPEN ? true : undefined;
          });
          break;
        }
        case "send":
          socket!.send(step[1]);
          break;
        case "ignore":
          ignore = new RegExp(step[1]);
          break;
        case "receive": {
          const message = await until(`"${step[1]}"`, () => received.shift());
          assert.equal(message, step[1]);
          break;
        }
        case "closed": {
          const event = await until(`the server to close with ${step[1]}`, () => closed);
          assert.equal(event.code, step[1]);
          break;
        }
        case "get": {
          const response = await fetch(`http://127.0.0.1:${port}${step[1]}`);
          const body = await response.text();
          assert.equal(response.status, step[2], body);
          if (step[3]) assert.ok(body.includes(step[3]), `no "${step[3]}" in:\n${body}`);
          break;
        }
        case "upgrade":
          assert.equal(await upgradeStatus(port, step[1]), step[2], `the upgrade of ${step[1]}`);
          break;
        case "signal":
          child.kill(step[1]);
          break;
      }
    }
  } finally {
    if (socket && !closed) {
      socket.close();
      await until("the socket to close", () => closed);
    }
  }
}

Deno.test("docs: the blocks that start a server serve what their dialog says", async (t) => {
  const servers = (await allBlocks()).filter((block) => block.server);
  assert.ok(servers.length >= 4, `only ${servers.length} server blocks`);
  const dir = await scratch();
  try {
    for (const block of servers) {
      await t.step(`${block.page}:${block.start}`, async () => {
        assert.ok(
          block.dialog,
          `${block.page}:${block.start}: a block that starts a server needs a ` +
            `<!-- dialog: [...] --> line before it`,
        );
        const file = `${dir}/${block.page.replace("/", "_")}_${block.start}.ts`;
        await Deno.writeTextFile(file, block.code);
        const args = block.server === "serve"
          ? ["serve", "--lock=deno.lock", "-A", "--host", "127.0.0.1", "--port", "0", file]
          : ["run", "--lock=deno.lock", "-A", "--preload=tests/_docs_serve_shim.ts", file];
        const child = new Deno.Command(Deno.execPath(), {
          args,
          cwd: rootPath,
          env: { NO_COLOR: "1" },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const out = { text: "" };
        const err = { text: "" };
        const reading = Promise.all([collect(child.stdout, out), collect(child.stderr, err)]);
        try {
          const port = await until("the server to listen", () => {
            const found = /\{"port":(\d+)\}/.exec(out.text) ??
              /Listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(err.text);
            return found ? Number(found[1]) : undefined;
          });
          await talk(port, block.dialog, child);
        } catch (error) {
          throw new Error(
            `${block.page}:${block.start}: ${(error as Error).message}\n${err.text}`,
            {
              cause: error,
            },
          );
        } finally {
          try {
            child.kill("SIGKILL");
          } catch {
            // it ended by itself
          }
          await child.status;
          await reading;
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docs: deno doc --html builds every entry without warnings", async () => {
  const output = await scratch();
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-env",
        ".ci/doc_html.ts",
        output,
      ],
      cwd: rootPath,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assert.ok(result.success, text);
    assert.match(text, /; 0 warnings/);
    for (const key of Object.keys(entries)) {
      const page = key === "." ? "index.html" : `${key.slice(2)}/index.html`;
      assert.ok((await Deno.stat(`${output}/${page}`)).isFile, `no ${page} for ${key}`);
    }
  } finally {
    await Deno.remove(output, { recursive: true });
  }
});
