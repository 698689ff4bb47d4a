// Helpers for the browser suite: start the whole system (the launcher), read OTP codes from the
// dev mailbox, launch Debian's chromium through playwright-core, and save screenshots of failing
// steps. No fixed sleeps: everything polls against a deadline or uses Playwright's auto-waiting.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const IN_CI = process.env.CI === 'true';
export const LOG_DIR = process.env.LOG_DIR || join(REPO, 'logs');
export const SCREENSHOT_DIR = join(LOG_DIR, 'screenshots');
const TARGET = process.env.CARGO_TARGET_DIR || join(REPO, 'target');
export const LAUNCHER = join(TARGET, 'debug', 'batiyoun');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Why the suite cannot run here, or null. Under CI every reason is a failure, not a skip. */
export function missingPrerequisite() {
  if (process.env.BATIYOUN_URL) {
    if (!process.env.BATIYOUN_MAILBOX) return 'BATIYOUN_URL is set but BATIYOUN_MAILBOX (the dev-mailbox.log path) is not';
  } else if (!existsSync(LAUNCHER)) {
    return `the launcher binary ${LAUNCHER} does not exist (cargo build --bins first)`;
  }
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  return null;
}

/** Builds web/dist (npm ci if needed) unless BATIYOUN_SKIP_WEB_BUILD=1. */
export function buildWeb() {
  if (process.env.BATIYOUN_SKIP_WEB_BUILD === '1') return;
  const web = join(REPO, 'web');
  const run = (args) => {
    const r = spawnSync('npm', args, { cwd: web, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed in web/:\n${r.stdout}\n${r.stderr}`);
  };
  if (!existsSync(join(web, 'node_modules'))) run(['ci', '--no-audit', '--no-fund']);
  run(['run', 'build']);
}

/**
 * Starts the launcher on a free port with a fresh DATA_DIR, serving a copy of web/dist, and
 * resolves with `{url, mailbox, webDir, stop}` once it prints "Batiyoun is running: open <url>".
 * `webDir` is that copy, which a test may change (`deployNextBuild`) without touching web/dist.
 * With BATIYOUN_URL (+ BATIYOUN_MAILBOX) set, uses that running system instead (`webDir` null).
 */
export async function startSystem({ timeoutMs = 120_000, env = {} } = {}) {
  if (process.env.BATIYOUN_URL) {
    return { url: process.env.BATIYOUN_URL.replace(/\/$/, ''), mailbox: process.env.BATIYOUN_MAILBOX, webDir: null, stop: async () => {}, output: () => '' };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'batiyoun-browser-'));
  const webDir = join(dataDir, 'web');
  cpSync(join(REPO, 'web', 'dist'), webDir, { recursive: true });
  const child = spawn(LAUNCHER, [], {
    env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, WEB_DIR: webDir, LOG_FORMAT: 'pretty' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (d) => {
    output += d.toString();
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`launcher did not print its URL within ${timeoutMs} ms:\n${output.slice(-4000)}`)), timeoutMs);
    const onData = () => {
      const m = output.match(/Batiyoun is running: open (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolveUrl(m[1].replace(/\/$/, ''));
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`launcher exited (${code ?? sig}) before printing its URL:\n${output.slice(-4000)}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    // Keep the launcher's log next to the screenshots for CI artifacts.
    try {
      mkdirSync(LOG_DIR, { recursive: true });
      writeFileSync(join(LOG_DIR, 'browser-launcher.log'), output);
    } catch {
      /* best effort */
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, mailbox: join(dataDir, 'dev-mailbox.log'), webDir, stop, output: () => output };
}

/**
 * Puts a new build of the PWA in `webDir`, as a deploy would: the service worker's cache version
 * changes (so browsers install the new worker), and index.html carries
 * `<meta name="batiyoun-build" content="next">` (so a test can tell which build a page runs).
 * With `lateFile` (a path under /assets/), the new worker also precaches that file, which is not
 * served until the returned `publishLate()`: a server that has the new build only in part.
 */
export function deployNextBuild(webDir, { lateFile } = {}) {
  const sw = join(webDir, 'sw.js');
  const oldSw = readFileSync(sw, 'utf8');
  let newSw = oldSw.replace(/const VERSION = "[0-9a-f]{16}"/, 'const VERSION = "next"');
  if (newSw === oldSw) throw new Error(`no build cache version found in ${sw}`);
  if (lateFile) {
    const listed = newSw.replace('const PRECACHE_URLS = [', `const PRECACHE_URLS = [${JSON.stringify(lateFile)},`);
    if (listed === newSw) throw new Error(`no precache list found in ${sw}`);
    newSw = listed;
  }
  writeFileSync(sw, newSw);
  const index = join(webDir, 'index.html');
  writeFileSync(index, readFileSync(index, 'utf8').replace('<head>', '<head>\n    <meta name="batiyoun-build" content="next" />'));
  return { publishLate: () => writeFileSync(join(webDir, lateFile), '// the next build\n') };
}

/** What a page's service worker registration holds, for a failing test's message. */
export async function workerState(page) {
  return page
    .evaluate(async () => {
      const sw = navigator.serviceWorker;
      const reg = await sw.getRegistration();
      const w = (x) => x && { script: x.scriptURL, state: x.state };
      return { controller: w(sw.controller), active: w(reg?.active), waiting: w(reg?.waiting), installing: w(reg?.installing), caches: await caches.keys() };
    })
    .catch((e) => `unreadable: ${e.message}`);
}

/**
 * The newest 6-digit code mailed to `email`: the text after the last mention of the address (up
 * to the next mailbox entry) is searched, so timestamps before the address never match.
 */
export async function readOtp(mailbox, email, { timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(mailbox) ? readFileSync(mailbox, 'utf8') : '';
    const at = text.toLowerCase().lastIndexOf(email.toLowerCase());
    if (at >= 0) {
      let rest = text.slice(at + email.length);
      const next = rest.search(/\n--- /);
      if (next >= 0) rest = rest.slice(0, next);
      const m = rest.match(/(?<![\d])(\d{6})(?![\d])/);
      if (m) return m[1];
    }
    if (Date.now() > deadline) throw new Error(`no OTP for ${email} in ${mailbox} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100)); // polling interval, bounded by the deadline
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Lowercase-letter random suffix (no digits, so an address never looks like an OTP). */
export function randomName(prefix) {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let s = '';
  for (let i = 0; i < 10; i++) s += letters[Math.floor(Math.random() * letters.length)];
  return `${prefix}${s}`;
}

/**
 * Runs one named step; on failure saves a screenshot of every page to
 * LOG_DIR/screenshots/<test>-<step>[-<page>].png and rethrows.
 */
export function stepper(testName, pages) {
  return async function step(name, fn) {
    try {
      return await fn();
    } catch (err) {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      const safe = (s) => s.replace(/[^a-z0-9_-]+/gi, '_');
      for (const [label, page] of Object.entries(pages)) {
        if (!page || page.isClosed()) continue;
        const file = join(SCREENSHOT_DIR, `${safe(testName)}-${safe(name)}${Object.keys(pages).length > 1 ? `-${safe(label)}` : ''}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      }
      err.message = `[step "${name}"] ${err.message}`;
      throw err;
    }
  };
}

/** A JSON call from Node (used to check server-side state, e.g. no duplicate messages). */
export async function api(url, path, { method = 'GET', body, token } = {}) {
  const res = await fetch(url + path, {
    method,
    headers: { 'Content-Type': 'application/json', Origin: url, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return json;
}
