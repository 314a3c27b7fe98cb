// Statistics in the console: a fresh CLIENT of a fresh company seeds folders and analyses through
// the API; the page's tables show what GET /api/statistics/ answers for that user (another
// company's analyses are not counted), the charts are drawn (uPlot canvases), the period and
// company controls change what is counted. Screenshots at desktop and phone width.

const PW = 'stats-spec-pass-1';

async function client(ctx, companyName) {
  const admin = ctx.admin.token;
  const company = await ctx.must(admin, 'POST', '/api/companies/', { json: { name: ctx.unique(companyName) } });
  const email = `${ctx.unique('stats')}@console.test`;
  await ctx.must(admin, 'POST', '/api/users/', {
    json: { email, password: PW, user_type: 'CLIENT', company_id: company.company_id },
  });
  return { company, email, token: await ctx.token(email, PW) };
}

/** A folder with a selfie photo; with `quality`, QUALITY runs in the same request (single request mode). */
async function folder(ctx, token, quality) {
  const payload = { 'media:tags': { selfie: ['photo_selfie'] } };
  if (quality) payload.analyses = [{ type: 'quality' }];
  return ctx.must(token, 'POST', '/api/folders/', {
    form: ctx.form([{ key: 'selfie', file: 'faces/live/obama__portrait.jpg', type: 'image/jpeg' }], payload),
  });
}

/** The cells of the row of table `name` whose first cell is `first`. */
async function rowCells(page, name, first) {
  const table = page.getByRole('table', { name, exact: true });
  await table.waitFor();
  const rows = table.locator('tbody tr');
  const n = await rows.count();
  for (let i = 0; i < n; i += 1) {
    const cells = await rows.nth(i).locator('td').allInnerTexts();
    if (cells[0].trim() === first) return cells.map((c) => c.trim());
  }
  return null;
}

async function chartsDrawn(ctx, page) {
  for (const id of ['chart-analyses', 'chart-liveness', 'chart-folders']) {
    const canvas = page.locator(`#${id} canvas`).first();
    await canvas.waitFor();
    const [w, boxW] = await canvas.evaluate((c) => [c.getBoundingClientRect().width, c.closest('.stats-chart').clientWidth]);
    ctx.assert(w > 100 && w <= boxW + 1, `${id} is drawn inside its box (${w} px of ${boxW})`);
    const label = await page.locator(`#${id}`).getAttribute('aria-label');
    ctx.assert(label && label.includes('Numbers per day'), `${id} names its text alternative: ${label}`);
  }
}

async function openStats(ctx, variant, email) {
  const page = await ctx.open(variant);
  await ctx.login(page, email, PW);
  await page.getByRole('link', { name: 'Statistics' }).click();
  await page.getByRole('heading', { name: 'Statistics', level: 1 }).waitFor();
  await page.getByRole('table', { name: 'Numbers per day', exact: true }).waitFor();
  return page;
}

module.exports = {
  name: 'statistics: counts as the API answers them, charts, window and company',
  run: async (ctx) => {
    const { assert, must } = ctx;
    const mine = await client(ctx, 'Stats Co');
    const other = await client(ctx, 'Other Co');
    await folder(ctx, mine.token, true);
    await folder(ctx, mine.token, true);
    await folder(ctx, mine.token, false);
    await folder(ctx, other.token, true);
    await folder(ctx, other.token, true);

    const page = await openStats(ctx, 'desktop', mine.email);
    const tz = await page.evaluate(() => -new Date().getTimezoneOffset());
    const stats = await must(mine.token, 'GET', `/api/statistics/?tz_offset=${tz}`);
    assert(stats.folders.total === 3 && stats.analyses.total === 2, `the API counts this user's own only: ${JSON.stringify(stats)}`);
    const today = stats.folders.per_day[stats.folders.per_day.length - 1];

    // Numbers per day: Date, Folders, Analyses, QUALITY, QUALITY declined, then type/outcome.
    const row = await rowCells(page, 'Numbers per day', today.date);
    assert(row, `a row for ${today.date}`);
    const declined = stats.analyses.per_day.filter((r) => r.date === today.date && r.type === 'QUALITY' && r.resolution_status === 'DECLINED')
      .reduce((s, r) => s + r.count, 0);
    assert(row[1] === String(today.count) && row[2] === '2' && row[3] === '2' && row[4] === String(declined),
      `the day's row shows the API's counts (3 folders, 2 analyses, ${declined} declined): ${row}`);
    const perType = (await page.getByRole('table', { name: 'Analyses by type and outcome', exact: true })
      .locator('tbody tr').allInnerTexts()).map((r) => r.trim().split(/\t/).map((c) => c.trim()).join(' '));
    const expected = stats.analyses.per_type.map((t) => `${t.type} ${t.resolution_status} ${t.count}`);
    assert(JSON.stringify(perType) === JSON.stringify(expected), `per type: ${JSON.stringify(perType)} vs ${JSON.stringify(expected)}`);
    const finished = await rowCells(page, 'Liveness and queue in numbers', 'QUALITY finished');
    assert(finished[1] === String(stats.liveness.finished) && stats.liveness.finished === 2, `liveness: ${finished}`);
    const processing = await rowCells(page, 'Liveness and queue in numbers', 'Analyses processing');
    assert(processing[1] === String(stats.queue.processing), `queue: ${processing}`);
    const figures = await page.locator('.stat-figs').first().innerText();
    assert(/Folders\s+3\b/.test(figures) && /Analyses\s+2\b/.test(figures), `overview figures: ${figures}`);
    assert(await page.getByLabel('Company', { exact: true }).count() === 0, 'a CLIENT has no company choice');
    await chartsDrawn(ctx, page);
    await ctx.shot(page, 'stats');

    // Another period: 7 days still holds today; a custom window in the past holds nothing.
    await page.getByLabel('Period', { exact: true }).selectOption('7');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/#\/stats\?days=7/);
    await ctx.until(async () => {
      const r = await rowCells(page, 'Numbers per day', today.date);
      return r && r[1] === String(today.count);
    }, 20000, 'the 7-day table');
    const rows7 = await page.getByRole('table', { name: 'Numbers per day', exact: true }).locator('tbody tr').count();
    assert(rows7 === 7, `seven days listed: ${rows7}`);
    await page.getByLabel('Period', { exact: true }).selectOption('custom');
    await page.getByLabel('From', { exact: true }).fill('2020-01-01');
    await page.getByLabel('To', { exact: true }).fill('2020-01-03');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/from=2020-01-01&to=2020-01-03/);
    await ctx.until(async () => (await rowCells(page, 'Numbers per day', '2020-01-02')) !== null, 20000, 'the custom window');
    const past = await page.getByRole('table', { name: 'Numbers per day', exact: true }).locator('tbody tr').allInnerTexts();
    assert(past.length === 3 && past.every((r) => /^\S+\s+0\s+0\s+0\s+0$/.test(r.trim())), `nothing in 2020: ${JSON.stringify(past)}`);
    await chartsDrawn(ctx, page);

    // The other company's user counts its own two analyses only.
    const theirs = await openStats(ctx, 'desktop', other.email);
    const liv = await rowCells(theirs, 'Liveness and queue in numbers', 'QUALITY finished');
    assert(liv[1] === '2', `the other company sees its own QUALITY only: ${liv}`);

    // ADMIN: the company choice narrows to the fresh company.
    const ap = await ctx.open('desktop');
    await ctx.login(ap, ctx.admin.email, ctx.admin.password);
    await ap.goto('/console/#/stats');
    await ap.getByRole('table', { name: 'Numbers per day', exact: true }).waitFor();
    await ap.getByLabel('Company', { exact: true }).selectOption(mine.company.company_id);
    await ap.getByRole('button', { name: 'Show' }).click();
    await ap.waitForURL(new RegExp(`company_id=${mine.company.company_id}`));
    await ctx.until(async () => {
      const r = await rowCells(ap, 'Per company', mine.company.name);
      return r && r[1] === '3' && r[2] === '2';
    }, 20000, 'the per-company row of the fresh company');
    const companies = await ap.getByRole('table', { name: 'Per company', exact: true }).locator('tbody tr').count();
    assert(companies === 1, `only the chosen company: ${companies}`);

    // Phone width: no sideways scroll, charts fit.
    const phone = await openStats(ctx, 'phone', mine.email);
    await chartsDrawn(ctx, phone);
    await ctx.noSideScroll(phone);
    await ctx.shot(phone, 'stats');
  },
};
