// The web capture page (/capture/ on /sdk/openoz-capture.js) used as a person would, in headless
// Chromium with a fake camera. Started by scripts/capture-e2e.sh with a throw-away server.
//
// Each case: the test asks the server for a real challenge (with an SDK session token), renders a
// camera clip from the committed segments (tests/fixtures/capture/make-camera.sh: a neutral face,
// then the given actions, then neutral), starts a fresh Chromium whose camera is that clip
// (--use-file-for-fake-video-capture), and opens the page with the token in the URL fragment. The
// page's own POST /api/liveness/challenges/ is answered with the challenge the test issued (the
// page cannot know which random actions the clip will show), so the server still issues, claims
// and verifies the challenge as it would for any client. The test reads the verdict the page shows
// and the Instant answer it received.
//
// Usage: node run.cjs BASE_URL ADMIN_EMAIL ADMIN_PASSWORD WORK_DIR [case-name-filter]

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');

const [base, adminEmail, adminPassword, workDir, filter] = process.argv.slice(2);
const ROOT = path.resolve(__dirname, '..', '..');
const MAKE_CAMERA = path.join(ROOT, 'tests', 'fixtures', 'capture', 'make-camera.sh');
// axe-core (npm, pinned by scripts/browser-tools.sh): WCAG 2.1 A/AA, evaluated through the
// DevTools protocol, which the page's CSP does not govern.
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

async function axe(page, what) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const res = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return res.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  assert(found.length === 0, `${what}: accessibility violations ${JSON.stringify(found)}`);
}

class Failure extends Error {}
function assert(cond, msg) {
  if (!cond) throw new Failure(msg);
}

async function api(token, method, p, body, headers = {}) {
  const h = { ...headers };
  if (token) h['X-Forensic-Access-Token'] = token;
  let b = body;
  if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string') {
    h['Content-Type'] = 'application/json';
    b = JSON.stringify(body);
  }
  const res = await fetch(`${base}${p}`, { method, headers: h, body: b });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = text; }
  return { status: res.status, body: json, headers: res.headers };
}

async function must(token, method, p, body) {
  const r = await api(token, method, p, body);
  if (r.status >= 300) throw new Failure(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A y4m camera clip showing `actions` (or `still`) in order. */
function camera(name, actions) {
  const out = path.join(workDir, `${name}.y4m`);
  execFileSync('bash', [MAKE_CAMERA, out, ...actions], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

/** The first action list of the same length that differs from `actions` in every position. */
function otherActions(actions) {
  const all = ['turn_left', 'turn_right', 'look_up', 'look_down', 'smile', 'blink'];
  const out = [];
  for (const a of actions) {
    const pick = all.find((x) => x !== a && x !== out[out.length - 1] && !actions.includes(x) && !out.includes(x));
    out.push(pick || all.find((x) => x !== a && x !== out[out.length - 1]));
  }
  return out;
}

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required'];

/**
 * Runs the page once with `clip` as the camera; answers {verdict, error, folder (the Instant
 * answer or null), shot (a screenshot path)}. `challenge` (if given) answers the page's request
 * for one.
 */
async function capture(name, { token, clip, challenge, fragment = '', viewport = { width: 390, height: 844 } }) {
  const args = [...CHROMIUM_ARGS];
  if (clip) args.push(`--use-file-for-fake-video-capture=${clip}`);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args });
  const problems = [];
  try {
    const context = await browser.newContext({ viewport, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of (4\d\d)/.test(m.text())) problems.push(`console error: ${m.text()}`);
    });
    if (challenge) {
      await page.route('**/api/liveness/challenges/', (route) =>
        route.fulfill({ status: 201, contentType: 'application/json', body: JSON.stringify(challenge) }));
    }
    let folder = null;
    // Keep the uploaded clip (the multipart body's media part) next to the screenshots.
    const upload = (u) => u.includes('/api/instant/folders/') || u.endsWith('/api/folders/');
    page.on('request', (r) => {
      if (!upload(r.url()) || r.method() !== 'POST') return;
      const body = r.postDataBuffer();
      if (!body) return;
      const start = body.indexOf(Buffer.from('\r\n\r\n'));
      const boundary = body.subarray(0, body.indexOf(Buffer.from('\r\n')));
      const end = body.indexOf(boundary, start);
      if (start > 0 && end > start) fs.writeFileSync(path.join(workDir, `${name}.webm`), body.subarray(start + 4, end - 2));
    });
    page.on('response', async (r) => {
      if (upload(r.url()) && r.request().method() === 'POST') {
        try { folder = await r.json(); } catch (_) { folder = null; }
      }
    });
    await page.goto(`${base}/capture/#token=${encodeURIComponent(token)}&autostart=1${fragment}`);
    assert(!page.url().includes('token='), 'the token stays out of the address bar');
    if (clip && challenge) {
      // While an action is prompted: the prompt names it, the progress bar moves.
      await page.locator('.ozc[data-state="recording"][data-action]:not([data-action=""])').waitFor({ timeout: 60000 });
      const prompt = await page.locator('.ozc-prompt').textContent();
      assert(challenge.instructions.some((i) => prompt.includes(i)), `the prompt shows an instruction: ${prompt}`);
      await page.screenshot({ path: path.join(workDir, `${name}-recording.png`) });
    }
    await page.locator('body[data-verdict]').waitFor({ timeout: 120000 });
    const verdict = await page.locator('body').getAttribute('data-verdict');
    const error = await page.locator('body').getAttribute('data-error');
    const text = await page.locator('#result').textContent();
    const shot = path.join(workDir, `${name}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    assert(problems.length === 0, `page problems: ${problems.join('; ')}`);
    return { verdict, error, text, folder, shot };
  } finally {
    await browser.close();
  }
}

/** The events of the telemetry session that names `challengeId` (the SDK sends them at the end). */
async function telemetryOf(token, challengeId) {
  for (let i = 0; i < 20; i++) {
    const page = await must(token, 'GET', '/api/event_sessions/?limit=20');
    for (const s of page.items) {
      const full = await must(token, 'GET', `/api/event_sessions/${s.session_id}/`);
      const issued = full.events.find((e) => e.event === 'challenge_issued');
      if (issued?.data?.challenge_id === challengeId && full.events.some((e) => e.event === 'result')) return full.events;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no telemetry session names challenge ${challengeId}`);
}

function challengeOf(folder) {
  const q = (folder?.analyses || []).find((a) => String(a.type).toUpperCase() === 'QUALITY');
  return q?.results_media?.[0]?.results_data?.challenge || null;
}

async function main() {
  fs.mkdirSync(workDir, { recursive: true });
  const admin = (await must(null, 'POST', '/api/authorize/auth', { credentials: { email: adminEmail, password: adminPassword } })).access_token;
  const session = (await must(admin, 'GET', '/api/authorize/session_token')).session_token;
  const issue = () => must(session, 'POST', '/api/liveness/challenges/');

  const cases = [
    {
      name: 'performs-the-challenge',
      async run() {
        const c = await issue();
        const r = await capture(this.name, { token: session, clip: camera(this.name, c.actions), challenge: c });
        const ch = challengeOf(r.folder);
        assert(r.verdict === 'SUCCESS', `verdict ${r.verdict} (${r.text}); challenge ${JSON.stringify(ch)}`);
        assert(ch && ch.passed === true && ch.challenge_id === c.challenge_id, `challenge ${JSON.stringify(ch)}`);
        // The SDK's telemetry: one event session with the steps of this capture, in order.
        const events = await telemetryOf(admin, c.challenge_id);
        const names = events.map((e) => e.event);
        for (const step of ['step:camera', 'step:precheck', 'challenge_issued', 'step:record', 'recorded', 'step:upload', 'result']) {
          assert(names.includes(step), `telemetry has ${step}: ${names.join(',')}`);
        }
        assert(names.indexOf('challenge_issued') < names.indexOf('result'), `telemetry in order: ${names.join(',')}`);
        assert(events.find((e) => e.event === 'result').data.verdict === 'SUCCESS', `telemetry verdict: ${JSON.stringify(events)}`);
        return `actions ${c.actions.join(',')}: SUCCESS; telemetry ${names.length} events`;
      },
    },
    {
      name: 'folder-mode-with-a-session-token',
      async run() {
        // mode=folder: the capture is stored in the company (uploaded with the session token,
        // which reads only that folder back), and the back end reads the verdict with its own.
        const c = await issue();
        const r = await capture(this.name, { token: session, clip: camera(this.name, c.actions), challenge: c, fragment: '&mode=folder' });
        assert(r.verdict === 'SUCCESS', `verdict ${r.verdict} (${r.text})`);
        const id = r.folder?.folder_id;
        assert(id, `the upload answered a folder: ${JSON.stringify(r.folder)}`);
        const stored = await must(admin, 'GET', `/api/folders/${id}/?with_analyses=true`);
        const ch = challengeOf(stored);
        assert(ch && ch.passed === true && ch.challenge_id === c.challenge_id, `stored challenge ${JSON.stringify(ch)}`);
        return `folder ${id} stored, read by the back end: SUCCESS`;
      },
    },
    {
      name: 'still-photo',
      async run() {
        const c = await issue();
        const r = await capture(this.name, { token: session, clip: camera(this.name, ['still']), challenge: c });
        const ch = challengeOf(r.folder);
        assert(r.verdict === 'DECLINED', `verdict ${r.verdict} (${r.text}) for ${c.actions.join(',')}: ${JSON.stringify(ch)}`);
        assert(ch && ch.passed === false && ch.actions.every((a) => !a.detected), `challenge ${JSON.stringify(ch)}`);
        return `DECLINED: ${ch.reason}`;
      },
    },
    {
      name: 'wrong-order',
      async run() {
        const c = await issue();
        // Another order of the same actions: reversed, or rotated when reversing changes nothing
        // (turn_right, look_up, turn_right).
        let reversed = [...c.actions].reverse();
        if (reversed.join() === c.actions.join()) reversed = [...c.actions.slice(1), c.actions[0]];
        const r = await capture(this.name, { token: session, clip: camera(this.name, reversed), challenge: c });
        const ch = challengeOf(r.folder);
        assert(r.verdict === 'DECLINED', `verdict ${r.verdict} (${r.text}) for ${c.actions.join(',')}: ${JSON.stringify(ch)}`);
        assert(ch && ch.passed === false && ch.order_ok === false, `challenge ${JSON.stringify(ch)}`);
        return `actions ${c.actions.join(',')} performed as ${reversed.join(',')}: DECLINED: ${ch.reason}`;
      },
    },
    {
      name: 'clip-of-another-challenge',
      async run() {
        const c = await issue();
        const other = otherActions(c.actions);
        const r = await capture(this.name, { token: session, clip: camera(this.name, other), challenge: c });
        const ch = challengeOf(r.folder);
        assert(r.verdict === 'DECLINED', `verdict ${r.verdict} (${r.text}) for ${c.actions.join(',')}: ${JSON.stringify(ch)}`);
        assert(ch && ch.passed === false, `challenge ${JSON.stringify(ch)}`);
        return `asked ${c.actions.join(',')}, shown ${other.join(',')}: DECLINED: ${ch.reason}`;
      },
    },
    {
      name: 'zoomed-photo',
      async run() {
        // A still photo moved towards the camera: the face grows, nothing else happens.
        const c = await issue();
        const r = await capture(this.name, { token: session, clip: camera(this.name, ['zoom']), challenge: c });
        const ch = challengeOf(r.folder);
        assert(r.verdict === 'DECLINED', `verdict ${r.verdict} (${r.text}) for ${c.actions.join(',')}: ${JSON.stringify(ch)}`);
        assert(ch && ch.passed === false && ch.actions.every((a) => !a.detected), `challenge ${JSON.stringify(ch)}`);
        return `DECLINED: ${ch.reason}`;
      },
    },
    {
      name: 'person-switches',
      async run() {
        // The first action by one person, the rest by another (two recordings spliced).
        const c = await issue();
        const tokens = c.actions.map((a, i) => (i === 0 ? a : `biden:${a}`));
        const r = await capture(this.name, { token: session, clip: camera(this.name, tokens), challenge: c });
        const ch = challengeOf(r.folder);
        assert(r.verdict === 'DECLINED', `verdict ${r.verdict} (${r.text}) for ${tokens.join(',')}: ${JSON.stringify(ch)}`);
        assert(ch && ch.passed === false && (ch.identity_ok === false || ch.continuity_ok === false), `challenge ${JSON.stringify(ch)}`);
        return `${tokens.join(',')}: DECLINED: ${ch.reason}`;
      },
    },
    {
      name: 'replayed-challenge',
      async run() {
        // A challenge already used by a passing capture cannot be used again.
        const c = await issue();
        const clip = camera(this.name, c.actions);
        const first = await capture(`${this.name}-1`, { token: session, clip, challenge: c });
        assert(first.verdict === 'SUCCESS', `first use: ${first.verdict} (${first.text})`);
        const again = await capture(`${this.name}-2`, { token: session, clip, challenge: c });
        assert(again.verdict === 'ERROR', `second use: ${again.verdict}`);
        assert(/used/i.test(again.text), `second use says why: ${again.text}`);
        return `second use refused: ${again.text}`;
      },
    },
    {
      name: 'keyboard-and-screen-reader-at-360px',
      async run() {
        // Started from the keyboard at phone width; axe-core finds no WCAG 2.1 AA violation
        // before and during the capture; the prompt is a live region; nothing scrolls sideways.
        const clip = camera(this.name, ['neutral']);
        const browser = await chromium.launch({
          executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
          args: [...CHROMIUM_ARGS, `--use-file-for-fake-video-capture=${clip}`],
        });
        try {
          const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
          const page = await context.newPage();
          const problems = [];
          page.on('pageerror', (e) => problems.push(e.message));
          await page.goto(`${base}/capture/#token=${encodeURIComponent(session)}`);
          await axe(page, 'before the capture');
          await page.keyboard.press('Tab');
          const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
          assert(focused === 'go', `Tab reaches the Start button first (got ${focused})`);
          await page.keyboard.press('Enter');
          await page.locator('.ozc[data-state="positioning"]').waitFor({ timeout: 30000 });
          const live = await page.locator('.ozc-prompt').getAttribute('aria-live');
          assert(live === 'assertive', `the prompt is read out (aria-live ${live})`);
          await axe(page, 'during the capture');
          const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
          assert(sw <= cw + 1, `no sideways scroll at 360 px: ${sw} > ${cw}`);
          await page.screenshot({ path: path.join(workDir, `${this.name}.png`) });
          assert(problems.length === 0, `page errors: ${problems.join('; ')}`);
        } finally {
          await browser.close();
        }
        return 'Tab + Enter starts it; no axe-core violations before or during the capture';
      },
    },
    {
      name: 'bad-token',
      async run() {
        const r = await capture(this.name, { token: 'not-a-token', clip: null });
        assert(r.verdict === 'ERROR' && r.error === 'token', `verdict ${r.verdict} error ${r.error}`);
        assert(/not valid|expired/i.test(r.text), r.text);
        return `shown: ${r.text}`;
      },
    },
  ];

  let failed = 0;
  for (const c of cases.filter((x) => !filter || x.name.includes(filter))) {
    const t0 = Date.now();
    try {
      const what = await c.run();
      console.log(`ok   ${c.name} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${what}`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${c.name}: ${e.message}`);
    }
  }
  const total = cases.filter((x) => !filter || x.name.includes(filter)).length;
  console.log(`capture: ${total - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
