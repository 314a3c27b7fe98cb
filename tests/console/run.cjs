// End-to-end tests of /console in headless Chromium (Debian's package, driven by playwright-core
// from npm). Started by scripts/console-e2e.sh with a throw-away server; runs every spec in
// tests/console/specs/ in name order. A spec is a CommonJS module exporting
// `{ name, run: async (ctx) => {...} }` and fails by throwing.
//
// Every page opened through ctx.open() also fails its spec on an uncaught page error, a console
// error or a Content-Security-Policy violation.
//
// Usage: node run.cjs BASE_URL ADMIN_EMAIL ADMIN_PASSWORD SHOTS_DIR [spec-name-filter]

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [base, adminEmail, adminPassword, shotsDir, filter] = process.argv.slice(2);
const ROOT = path.resolve(__dirname, '..', '..');
// axe-core (npm, pinned by scripts/console-e2e.sh) checks WCAG 2.1 A/AA rules, contrast included.
// It is evaluated through the DevTools protocol, which the page's CSP does not govern.
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 860 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
};

class Failure extends Error {}

function assert(cond, msg) {
  if (!cond) throw new Failure(msg);
}

/** One API call from the test (not the browser): {status, body}. */
async function api(token, method, p, opts = {}) {
  const headers = {};
  if (token) headers['X-Forensic-Access-Token'] = token;
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    body = opts.form;
  }
  const res = await fetch(`${base}${p}`, { method, headers, body });
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (_) { parsed = text; }
  return { status: res.status, body: parsed };
}

async function must(token, method, p, opts) {
  const r = await api(token, method, p, opts);
  if (r.status >= 300) throw new Failure(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

function fixture(rel) {
  return path.join(ROOT, 'tests', 'fixtures', rel);
}

/** A multipart form of files [{key, file (fixture path), type}] and an optional JSON payload. */
function form(files, payload) {
  const f = new FormData();
  for (const { key, file, type } of files) {
    f.append(key, new Blob([fs.readFileSync(fixture(file))], { type: type || 'application/octet-stream' }), path.basename(file));
  }
  if (payload) f.append('payload', JSON.stringify(payload));
  return f;
}

async function token(email, password) {
  const r = await must(null, 'POST', '/api/authorize/auth', { json: { credentials: { email, password } } });
  return r.access_token;
}

let uniq = 0;
/** A fresh name: tests never collide with each other or a second run. */
function unique(prefix) {
  uniq += 1;
  return `${prefix}-${Date.now().toString(36)}${uniq}`;
}

/** Polls fn until it answers truthy (or throws after `ms`). */
async function until(fn, ms = 60000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Failure(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  fs.mkdirSync(shotsDir, { recursive: true });
  const adminToken = await token(adminEmail, adminPassword);
  const specDir = path.join(__dirname, 'specs');
  const specs = fs.readdirSync(specDir).filter((f) => f.endsWith('.cjs')).sort()
    .filter((f) => !filter || f.includes(filter));
  let failed = 0;
  for (const file of specs) {
    const spec = require(path.join(specDir, file));
    const problems = [];
    const contexts = [];
    const ctx = {
      base, assert, api, must, fixture, form, token, unique, until, Failure,
      admin: { email: adminEmail, password: adminPassword, token: adminToken },
      /** A new browser context (its own sessionStorage) and page; variant desktop|phone. */
      async open(variant = 'desktop') {
        const context = await browser.newContext({ ...VIEWPORTS[variant], baseURL: base });
        contexts.push(context);
        const page = await context.newPage();
        page.variant = variant;
        page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
        page.on('console', (m) => {
          if (m.type() === 'error' && !/status of (4\d\d)/.test(m.text())) problems.push(`console error: ${m.text()}`);
        });
        page.setDefaultTimeout(20000);
        return page;
      },
      /** Opens the console and signs in. */
      async login(page, email, password) {
        await page.goto('/console/');
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Password').fill(password);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.locator('#logout').waitFor();
      },
      /** A full-page screenshot: SHOTS_DIR/<name>-<variant>.png. */
      async shot(page, name) {
        await page.screenshot({ path: path.join(shotsDir, `${name}-${page.variant}.png`), fullPage: true });
      },
      /**
       * Waits until `fn` (run in the page) answers truthy. Not page.waitForFunction: that polls
       * with eval() inside the page, which the console's CSP (rightly) refuses.
       */
      async waitIn(page, fn, arg, ms = 20000) {
        return until(() => page.evaluate(fn, arg), ms, `page condition ${String(fn).slice(0, 80)}`);
      },
      /**
       * The body rows of the table named `name` (its caption) as trimmed cell texts, or null
       * while the page holds no such table. Read in one step inside the page: a page that renders
       * again between two reads (count, then row i) cannot mix two tables or answer a row that
       * is gone. The table may still be the one of the previous render: wait for its content.
       */
      async tableRows(page, name) {
        return page.evaluate((n) => {
          const t = [...document.querySelectorAll('table')]
            .find((x) => x.caption && x.caption.textContent.trim() === n);
          if (!t) return null;
          return [...t.tBodies].flatMap((b) => [...b.rows]).map((r) => [...r.cells].map((c) => c.innerText.trim()));
        }, name);
      },
      /** Fails on any WCAG 2.1 A/AA violation axe-core finds in the page as it is now. */
      async axe(page, what) {
        await page.evaluate(AXE);
        const found = await page.evaluate(async () => {
          const res = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
          return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${(n.failureSummary || '').slice(0, 240)}`) }));
        });
        assert(found.length === 0, `${what} (${page.variant}): accessibility violations\n${JSON.stringify(found, null, 1)}`);
      },
      /** Fails on any horizontal overflow of the page itself (phone width usability). */
      async noSideScroll(page) {
        const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
        assert(sw <= cw + 1, `page scrolls sideways at ${page.variant} width: ${sw} > ${cw}`);
      },
    };
    const started = Date.now();
    try {
      await spec.run(ctx);
      if (problems.length) throw new Failure(problems.join('\n'));
      console.log(`ok   ${spec.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${spec.name}: ${e && e.stack ? e.stack : e}`);
      if (problems.length) console.log(problems.join('\n'));
    } finally {
      for (const c of contexts) await c.close().catch(() => {});
    }
  }
  await browser.close();
  console.log(`console-e2e: ${specs.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
