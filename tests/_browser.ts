// Headless Chromium for the browser tests, through npm:puppeteer-core (a maintained driver,
// no browser download: it drives the Chromium installed on the machine). It runs under the
// test task's permissions (no --allow-write): Chromium creates its own profile directory and
// `rm`/`tee` (--allow-run) remove it and save screenshots.

import puppeteer, { type Browser, type Page } from "npm:puppeteer-core@25.16.0";

export type { Page } from "npm:puppeteer-core@25.16.0";

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The Chromium to drive: WEBSOCK_CHROMIUM, else `chromium`, `chromium-browser` or
 * `google-chrome` on the PATH, else /usr/bin/chromium or /usr/bin/chromium-browser.
 */
export const CHROMIUM: string | undefined = (() => {
  const given = Deno.env.get("WEBSOCK_CHROMIUM");
  if (given) return given;
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir !== "");
  const names = ["chromium", "chromium-browser", "google-chrome"];
  const onPath = dirs.flatMap((dir) => names.map((name) => `${dir}/${name}`));
  return [...onPath, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find(isExecutable);
})();

/** A temporary directory, made and removed through `mkdir`/`rm` (no --allow-write). */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
  /** Write a file into it (through `tee`). */
  write(name: string, bytes: Uint8Array): Promise<string>;
  /** Keep it when disposed (a failed test leaves its screenshots to look at). */
  keep(): void;
}

async function run(command: string, args: string[], input?: Uint8Array): Promise<void> {
  const child = new Deno.Command(command, {
    args,
    stdin: input ? "piped" : "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  if (input) {
    const writer = child.stdin.getWriter();
    await writer.write(input);
    await writer.close();
  }
  const status = await child.status;
  if (!status.success) throw new Error(`${command} ${args.join(" ")} failed`);
}

/** Make a temporary directory for one test. */
export async function tempDir(): Promise<TempDir> {
  const path = `${Deno.env.get("TMPDIR") ?? "/tmp"}/websock-browser-${crypto.randomUUID()}`;
  await run("mkdir", ["-p", path]);
  let kept = false;
  return {
    path,
    async write(name, bytes) {
      const file = `${path}/${name}`;
      await run("tee", [file], bytes);
      return file;
    },
    keep() {
      kept = true;
    },
    async [Symbol.asyncDispose]() {
      if (!kept) await run("rm", ["-rf", path]);
    },
  };
}

/** A running headless Chromium; each `newPage()` is a separate user (its own context). */
export interface Chromium extends AsyncDisposable {
  readonly browser: Browser;
  /** A page in a fresh browser context (its own window, cookies and storage). */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
}

/**
 * Launch headless Chromium with its profile in `dir`. Pipe transport: no DevTools port, and
 * Chromium exits if this process dies.
 */
export async function launchChromium(executablePath: string, dir: TempDir): Promise<Chromium> {
  const browser = await puppeteer.launch({
    executablePath,
    pipe: true,
    userDataDir: `${dir.path}/profile`, // puppeteer's own mkdtemp would need --allow-write
    protocolTimeout: 30_000, // a hang fails in 30 s, not the default 180 s
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    async newPage(viewport = { width: 800, height: 600 }) {
      // One context per user: a background tab of a shared window does not render, so its
      // screenshots and rAF-polled waits would hang.
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      await page.setViewport(viewport);
      return page;
    },
    async [Symbol.asyncDispose]() {
      await browser.close();
    },
  };
}

/** Wait until a page expression is truthy (polled every 50 ms, 10 s at most by default). */
export async function waitFor(page: Page, expression: string, timeout = 10_000): Promise<void> {
  await page.waitForFunction(expression, { polling: 50, timeout });
}
