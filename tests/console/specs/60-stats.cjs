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

/**
 * The cells of the row of table `name` whose first cell is `first` (null when there is none),
 * read in one step once the table is in the page (ctx.tableRows: not a count and then row i, which
 * fails when the page renders again in between).
 */
async function rowCells(ctx, page, name, first) {
  const rows = await ctx.until(() => ctx.tableRows(page, name), 20000, `the table "${name}"`);
  return rows.find((r) => r[0] === first) || null;
}

/**
 * Waits until table `name` shows rows that `ok` accepts, and answers them. After a new window is
 * asked for, the table of the previous one stays in the page until the new answer is drawn:
 * only its content tells which one is there.
 */
async function tableShows(ctx, page, name, ok, what) {
  let last = null;
  try {
    return await ctx.until(async () => {
      last = await ctx.tableRows(page, name);
      return last && ok(last) ? last : null;
    }, 20000, what);
  } catch (e) {
    if (e instanceof ctx.Failure) throw new ctx.Failure(`${e.message}; "${name}" showed ${JSON.stringify(last)}`);
    throw e;
  }
}

/** The sum of column `i` over `rows`. */
function sum(rows, i) {
  return rows.reduce((s, r) => s + Number(r[i]), 0);
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

/** Waits until the page counts over `label` ("the last 7 days", "2020-01-01 to 2020-01-03"). */
async function windowShown(page, label) {
  await page.getByText(`Counted by the server over what you can see, for ${label};`).waitFor();
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

    // Numbers per day: Date, Folders, Analyses, QUALITY, QUALITY declined, then type/outcome; only
    // the days with data (of the 30). Each day the API lists shows the API's counts, whichever day
    // the seeding fell on (no date is assumed: midnight may pass while the spec runs), and the days
    // add up to this user's own.
    await windowShown(page, 'the last 30 days');
    const perDay = await tableShows(ctx, page, 'Numbers per day', (rows) => sum(rows, 1) === 3, 'the 30-day table');
    assert(perDay.every((r) => Number(r[1]) + Number(r[2]) > 0), `only days with data: ${JSON.stringify(perDay)}`);
    assert(perDay.length === stats.folders.per_day.length, `one row a day with folders: ${JSON.stringify(perDay)}`);
    assert(sum(perDay, 1) === 3 && sum(perDay, 2) === 2 && sum(perDay, 3) === 2,
      `the days hold 3 folders, 2 analyses, 2 QUALITY: ${JSON.stringify(perDay)}`);
    const want = new Map();
    const day = (date) => {
      if (!want.has(date)) want.set(date, [0, 0, 0, 0]);
      return want.get(date);
    };
    for (const f of stats.folders.per_day) day(f.date)[0] += f.count;
    for (const a of stats.analyses.per_day) {
      const w = day(a.date);
      w[1] += a.count;
      if (a.type === 'QUALITY') w[2] += a.count;
      if (a.type === 'QUALITY' && a.resolution_status === 'DECLINED') w[3] += a.count;
    }
    for (const [date, w] of want) {
      const r = perDay.find((x) => x[0] === date);
      assert(r && r.slice(1, 5).join(' ') === w.join(' '), `the row of ${date} shows the API's counts ${w}: ${r}`);
    }
    const perType = (await ctx.tableRows(page, 'Analyses by type and outcome')).map((r) => r.join(' '));
    const expected = stats.analyses.per_type.map((t) => `${t.type} ${t.resolution_status} ${t.count}`);
    assert(JSON.stringify(perType) === JSON.stringify(expected), `per type: ${JSON.stringify(perType)} vs ${JSON.stringify(expected)}`);
    const finished = await rowCells(ctx, page, 'Liveness and queue in numbers', 'QUALITY finished');
    assert(finished[1] === String(stats.liveness.finished) && stats.liveness.finished === 2, `liveness: ${finished}`);
    const processing = await rowCells(ctx, page, 'Liveness and queue in numbers', 'Analyses processing');
    assert(processing[1] === String(stats.queue.processing), `queue: ${processing}`);
    const figures = await page.locator('.stat-figs').first().innerText();
    assert(/Folders\s+3\b/.test(figures) && /Analyses\s+2\b/.test(figures), `overview figures: ${figures}`);
    assert(await page.getByLabel('Company', { exact: true }).count() === 0, 'a CLIENT has no company choice');
    await chartsDrawn(ctx, page);
    await ctx.shot(page, 'stats');

    // Another period: 7 days still hold what was just seeded; a custom window in the past holds nothing.
    await page.getByLabel('Period', { exact: true }).selectOption('7');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/#\/stats\?days=7/);
    // The 7-day view, with the seeded folders.
    await windowShown(page, 'the last 7 days');
    await tableShows(ctx, page, 'Numbers per day',
      (rows) => sum(rows, 1) === 3 && sum(rows, 2) === 2, 'the 7-day table');
    await page.getByLabel('Period', { exact: true }).selectOption('custom');
    await page.getByLabel('From', { exact: true }).fill('2020-01-01');
    await page.getByLabel('To', { exact: true }).fill('2020-01-03');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/from=2020-01-01&to=2020-01-03/);
    await windowShown(page, '2020-01-01 to 2020-01-03');
    // Nothing in 2020: no day listed, the table says so (and the charts still draw the 3 days).
    await page.getByText('No folders or analyses in this period.').waitFor();
    await page.getByText('(0 of 3)').waitFor();
    await chartsDrawn(ctx, page);

    // The other company's user counts its own two analyses only.
    const theirs = await openStats(ctx, 'desktop', other.email);
    const liv = await rowCells(ctx, theirs, 'Liveness and queue in numbers', 'QUALITY finished');
    assert(liv[1] === '2', `the other company sees its own QUALITY only: ${liv}`);

    // ADMIN: the company choice narrows to the fresh company.
    const ap = await ctx.open('desktop');
    await ctx.login(ap, ctx.admin.email, ctx.admin.password);
    await ap.goto('/console/#/stats');
    await ap.getByRole('table', { name: 'Numbers per day', exact: true }).waitFor();
    await ap.getByLabel('Company', { exact: true }).selectOption(mine.company.company_id);
    await ap.getByRole('button', { name: 'Show' }).click();
    await ap.waitForURL(new RegExp(`company_id=${mine.company.company_id}`));
    // The table of every company (the previous view) also has this company's row: wait for it alone.
    await tableShows(ctx, ap, 'Per company',
      (rows) => rows.length === 1 && rows[0].join(' ') === `${mine.company.name} 3 2`, 'the fresh company alone in "Per company"');

    // Phone width: no sideways scroll, charts fit.
    const phone = await openStats(ctx, 'phone', mine.email);
    await chartsDrawn(ctx, phone);
    await ctx.noSideScroll(phone);
    await ctx.shot(phone, 'stats');
  },
};
