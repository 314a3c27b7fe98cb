// Try it: a CLIENT uploads a selfie video and an ID photo through the page's file inputs, the
// page starts QUALITY and BIOMETRY and follows them; when they finish it shows QUALITY's verdict,
// the BIOMETRY score and the best shot (a loaded image); the folder, its metadata and the same
// numbers are then read through the API. Desktop and phone.

const PW = 'tryit-spec-pass-1';

async function tryOnce(ctx, page, token, variant) {
  const { assert, must } = ctx;
  await page.getByRole('link', { name: 'Try it' }).click();
  await page.getByRole('heading', { name: 'Try it', level: 1 }).waitFor();
  if (variant === 'phone') await ctx.noSideScroll(page);
  await page.getByLabel('Selfie video', { exact: true }).setInputFiles(ctx.fixture('videos/portrait_720x1280.mp4'));
  await page.getByLabel('ID photo', { exact: true }).setInputFiles(ctx.fixture('faces/live/obama__portrait.jpg'));
  const caseId = ctx.unique('case');
  await page.getByLabel('Metadata key 1', { exact: true }).fill('case');
  await page.getByLabel('Metadata value 1', { exact: true }).fill(caseId);
  await page.getByRole('button', { name: 'Add metadata' }).click();
  await page.getByLabel('Metadata key 2', { exact: true }).fill('channel');
  await page.getByLabel('Metadata value 2', { exact: true }).fill('console');
  await page.getByRole('button', { name: 'Upload and analyse' }).click();

  // The live region follows the analyses.
  const live = page.locator('.tryit-live');
  await live.getByText(/QUALITY: /).first().waitFor({ timeout: 60000 });
  assert(await live.getAttribute('aria-live') === 'polite', 'the progress is a live region');
  await live.getByText('Finished.', { exact: true }).waitFor({ timeout: 180000 });

  const quality = page.getByRole('region', { name: 'Liveness (QUALITY)' });
  const biometry = page.getByRole('region', { name: 'Face match (BIOMETRY)' });
  const qVerdict = (await quality.locator('.badge').first().innerText()).trim();
  assert(['SUCCESS', 'DECLINED', 'OPERATOR_REQUIRED'].includes(qVerdict), `QUALITY verdict shown: ${qVerdict}`);
  const spoofing = (await quality.locator('.tryit-spoofing').innerText()).trim();
  assert(/^\d\.\d{6}$/.test(spoofing), `spoofing score: ${spoofing}`);
  assert((await quality.innerText()).includes('against the threshold'), 'the score is put against its threshold');
  const bScore = (await biometry.locator('.tryit-biometry').innerText()).trim();
  assert(/^\d\.\d{6}$/.test(bScore), `biometry score: ${bScore}`);
  const shot = quality.getByRole('img', { name: /Best shot/ });
  await shot.waitFor();
  await ctx.until(() => shot.evaluate((img) => img.complete && img.naturalWidth > 0), 20000, 'the best shot image to load');

  const href = await page.getByRole('link', { name: 'Open the folder' }).getAttribute('href');
  const m = /^#\/folders\/([0-9a-f-]{36})$/.exec(href || '');
  assert(m, `a link to the folder: ${href}`);
  const f = await must(token, 'GET', `/api/folders/${m[1]}/?with_analyses=true`);
  assert(f.meta_data.case === caseId && f.meta_data.channel === 'console', `metadata stored: ${JSON.stringify(f.meta_data)}`);
  const tags = f.media.map((x) => x.tags.join(',')).sort();
  assert(tags.some((t) => t.includes('video_selfie')) && tags.some((t) => t.includes('photo_id_front')), `media tags: ${tags}`);
  const q = f.analyses.find((a) => a.type === 'QUALITY');
  const b = f.analyses.find((a) => a.type === 'BIOMETRY');
  assert(q && q.state === 'FINISHED' && q.resolution_status === qVerdict, `QUALITY in the API: ${q && q.resolution_status}`);
  assert(Number(q.results_media[0].results_data.confidence_spoofing).toFixed(6) === spoofing, 'the same spoofing score');
  assert(b && b.state === 'FINISHED' && Number(b.results_data.min_confidence).toFixed(6) === bScore, `BIOMETRY in the API: ${JSON.stringify(b && b.results_data)}`);
  return f;
}

/**
 * Files are checked against the limits the server publishes before anything is sent; on a slow
 * network the upload shows bytes and percent and can be cancelled, leaving nothing stored.
 */
async function refusedAndCancelled(ctx, page, token) {
  const { assert, must } = ctx;
  await page.getByRole('link', { name: 'Try it' }).click();
  await page.getByRole('heading', { name: 'Try it', level: 1 }).waitFor();
  const before = (await must(token, 'GET', '/api/folders/')).total;
  let posts = 0;
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/api/folders/')) posts += 1; });

  // Over the server's limit (10 MB a file on the test server): refused in the page, nothing sent.
  const big = { name: 'big.mp4', mimeType: 'video/mp4', buffer: Buffer.alloc(11 * 1024 * 1024, 1) };
  await page.getByLabel('Selfie video', { exact: true }).setInputFiles(big);
  await page.getByLabel('ID photo', { exact: true }).setInputFiles(ctx.fixture('faces/live/obama__portrait.jpg'));
  await page.getByRole('button', { name: 'Upload and analyse' }).click();
  await page.getByRole('alert').filter({ hasText: 'the server takes files up to 10 MB' }).waitFor();
  assert(posts === 0, `nothing was sent: ${posts} POST`);

  // A slow network (16 KB/s up): progress in bytes and percent, then Cancel.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const throttle = (up) => cdp.send('Network.emulateNetworkConditions', { offline: false, latency: up > 0 ? 40 : 0, downloadThroughput: -1, uploadThroughput: up });
  await throttle(16 * 1024);
  try {
    await page.getByLabel('Selfie video', { exact: true }).setInputFiles(ctx.fixture('videos/portrait_720x1280.mp4'));
    await page.getByRole('button', { name: 'Upload and analyse' }).click();
    const live = page.locator('.tryit-live');
    await live.getByText(/^Uploading: .+ of .+ \([1-9]\d? %\)$/).waitFor({ timeout: 30000 });
    const shown = await page.locator('progress.tryit-upload').evaluate((p) => [p.hidden, p.value]);
    assert(!shown[0] && shown[1] > 0 && shown[1] < 100, `a progress bar part way: ${shown}`);
    await page.getByRole('button', { name: 'Cancel upload' }).click();
    await live.getByText('Cancelled: nothing was stored.').waitFor();
  } finally {
    await throttle(-1);
  }
  const after = (await must(token, 'GET', '/api/folders/')).total;
  assert(after === before, `no folder from the cancelled upload: ${before} then ${after}`);
}

module.exports = {
  name: 'try it: upload a video and a photo, follow QUALITY and BIOMETRY, see the verdicts',
  run: async (ctx) => {
    const { assert, must } = ctx;
    const admin = ctx.admin.token;
    const company = await must(admin, 'POST', '/api/companies/', { json: { name: ctx.unique('Try Co') } });
    const email = `${ctx.unique('tryit')}@console.test`;
    await must(admin, 'POST', '/api/users/', { json: { email, password: PW, user_type: 'CLIENT', company_id: company.company_id } });
    const token = await ctx.token(email, PW);

    const page = await ctx.open('desktop');
    await ctx.login(page, email, PW);
    const f = await tryOnce(ctx, page, token, 'desktop');
    assert(f.company_id === company.company_id, 'the folder is the client\'s company\'s');
    await ctx.shot(page, 'tryit');
    await refusedAndCancelled(ctx, await ctx.open('desktop').then(async (p) => { await ctx.login(p, email, PW); return p; }), token);

    const phone = await ctx.open('phone');
    await ctx.login(phone, email, PW);
    await tryOnce(ctx, phone, token, 'phone');
    await ctx.noSideScroll(phone);
    await ctx.shot(phone, 'tryit');

    const list = await must(token, 'GET', '/api/folders/');
    assert(list.total === 2, `the client has the two folders: ${list.total}`);
  },
};
