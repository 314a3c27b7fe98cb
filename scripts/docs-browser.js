// Drives /docs in headless Chromium (playwright-core, Debian's /usr/bin/chromium): "Authorize" with
// the X-Forensic-Access-Token, then Execute GET /api/users/ from the page. Fails unless the request
// carried the token and the page shows 200. Usage: node docs-browser.js BASE_URL TOKEN [SCREENSHOT]
const { chromium } = require('playwright-core');

(async () => {
  const [base, token, shot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const sent = [];
  page.on('request', (r) => {
    if (r.url().startsWith(`${base}/api/users`)) sent.push(r.headers()['x-forensic-access-token'] || '');
  });
  await page.goto(`${base}/docs/`);
  await page.waitForSelector('.swagger-ui .info', { timeout: 30000 });
  await page.click('button.authorize');
  await page.fill('.modal-ux input[type=text]', token);
  await page.click('.modal-ux button.authorize');
  await page.click('.modal-ux button.btn-done');
  await page.locator('.opblock-summary-path[data-path="/api/users/"]').first().click();
  // tryItOutEnabled: the form is live as soon as the operation opens.
  await page.locator('.opblock.is-open button.execute').click({ timeout: 10000 });
  const cell = page.locator('.live-responses-table tbody .response-col_status').first();
  await cell.waitFor({ timeout: 30000 });
  const status = (await cell.innerText()).trim();
  if (shot) await page.screenshot({ path: shot });
  await browser.close();
  if (status !== '200' || sent.length === 0 || sent.some((t) => t !== token)) {
    console.error(`docs-browser: status ${status}, token sent on ${sent.length} request(s): ${sent.map((t) => t === token)}`);
    process.exit(1);
  }
  console.log(`docs-browser: Authorize + Execute GET /api/users/ from /docs: ${status}, token header sent`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
