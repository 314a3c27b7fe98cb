// Log in, the folder list with filters and paging, one folder with media, analyses, best shot and
// webhook deliveries; hostile metadata is shown as text, never run; logout.
const seed = require('../seed.cjs');

module.exports = {
  name: 'folders: log in, filter, page, open a folder, log out',
  async run(ctx) {
    const { assert } = ctx;
    const co = await seed.company(ctx, 'folders');
    const client = await seed.user(ctx, 'CLIENT', co.company_id);
    const tag = ctx.unique('tx');
    const xss = '<img src=x onerror="window.__xss=1">';
    const checked = await seed.folder(ctx, client.token, [seed.SELFIE, seed.ID_BIDEN], {
      meta: { transaction_id: tag, note: xss },
      analyses: [{ type: 'QUALITY' }, { type: 'BIOMETRY' }],
      resolution_endpoint: 'http://127.0.0.1:9/hook',
    });
    await seed.folder(ctx, client.token, [seed.PHOTO_OBAMA], { meta: { transaction_id: `${tag}-b` } });
    await seed.folder(ctx, client.token, [seed.PHOTO_OBAMA], { meta: { transaction_id: `${tag}-c` } });

    // A wrong password is refused with a message and no session.
    const page = await ctx.open('desktop');
    await page.goto('/console/');
    await page.getByLabel('Email').fill(client.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor();
    await ctx.shot(page, 'login');
    await ctx.login(page, client.email, client.password);

    // The list: this client's three folders, newest first, with statuses.
    await page.getByRole('heading', { name: 'Folders', level: 1 }).waitFor();
    const rows = page.locator('#folder-results tbody tr');
    await rows.first().waitFor();
    assert(await rows.count() === 3, `expected 3 folders, saw ${await rows.count()}`);
    await page.locator('#folder-results').getByText('1–3 of 3').waitFor();
    await ctx.shot(page, 'folders');

    // Filter by metadata key==value: one folder.
    await page.getByLabel('Metadata').fill(`transaction_id==${tag}`);
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#folder-results').getByText('1–1 of 1').waitFor();
    assert(page.url().includes('meta_data='), 'the filter is in the page address');
    const link = page.getByRole('link', { name: `Folder ${checked.folder_id}` });
    await link.waitFor();
    // Status filter: no DECLINED folder... and back.
    await page.getByLabel('Status').selectOption('FAILED');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No folder matches these filters.').waitFor();

    // Paging: two per page (server-side: limit/offset in the API call).
    const calls = [];
    page.on('request', (r) => { if (r.url().includes('/api/folders/?')) calls.push(r.url()); });
    await page.goto('/console/#/folders?limit=2');
    await page.locator('#folder-results').getByText('1–2 of 3').waitFor();
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.locator('#folder-results').getByText('3–3 of 3').waitFor();
    assert(calls.some((u) => u.includes('offset=2') && u.includes('limit=2')), `paging is done by the API: ${calls.join(' ')}`);

    // The folder page.
    await page.goto(`/console/#/folders/${checked.folder_id}`);
    await page.getByRole('heading', { name: `Folder ${checked.folder_id.slice(0, 8)}` }).waitFor();
    const quality = page.getByRole('article', { name: 'QUALITY analysis' });
    await quality.getByRole('table', { name: 'Liveness per media' }).waitFor();
    const qualityText = await quality.innerText();
    assert(/Spoofing chance/.test(qualityText) && /Declined above/.test(qualityText) && /\d %/.test(qualityText),
      `QUALITY numbers shown as chances with the threshold: ${qualityText}`);
    const bio = page.getByRole('article', { name: 'BIOMETRY analysis' });
    const bioText = await bio.innerText();
    assert(/OPERATOR_REQUIRED/.test(bioText) && /Least similar pair 0\.\d{3}/.test(bioText) && /the same person at 0\.\d\d or more/.test(bioText), `BIOMETRY numbers shown: ${bioText}`);
    const best = page.locator('img.best-shot').first();
    await best.waitFor();
    await ctx.waitIn(page, () => { const i = document.querySelector('img.best-shot'); return i && i.complete && i.naturalWidth > 0; });
    assert(await page.locator('video').count() === 1, 'the selfie video has a player');
    await ctx.waitIn(page, () => [...document.querySelectorAll('.media img')].some((i) => i.complete && i.naturalWidth > 0));
    await page.getByRole('table', { name: 'Webhook deliveries' }).getByText('http://127.0.0.1:9/hook').waitFor();
    // Hostile metadata is text.
    await page.getByText(xss).waitFor();
    assert(await page.evaluate(() => window.__xss === undefined), 'metadata markup ran');
    await ctx.shot(page, 'folder');

    // A shot set (zip of three photos) is shown as a strip of its shots.
    const zip = require('path').join(require('os').tmpdir(), `${ctx.unique('shots')}.zip`);
    require('child_process').execFileSync('python3', ['-c', `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for i, f in enumerate(sys.argv[2:]):
        z.write(f, 'shot_%02d.jpg' % i)
`, zip, ctx.fixture('faces/live/obama__portrait.jpg'), ctx.fixture('faces/live/obama__podium.jpg'), ctx.fixture('faces/live/obama__full.jpg')]);
    const fs = require('fs');
    const shotsForm = new FormData();
    shotsForm.append('shots', new Blob([fs.readFileSync(zip)], { type: 'application/zip' }), 'shots.zip');
    fs.unlinkSync(zip);
    const shotSet = await ctx.must(client.token, 'POST', '/api/folders/', { form: shotsForm });
    await page.goto(`/console/#/folders/${shotSet.folder_id}`);
    const strip = page.getByRole('group', { name: 'Shots of shots.zip' });
    await strip.getByRole('img', { name: 'Shot 3 of 3' }).waitFor();
    const drawn = await page.evaluate(() => [...document.querySelectorAll('.strip canvas')].map((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let sum = 0;
      for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
      return sum / (d.length / 4) / 3;
    }));
    assert(drawn.length === 3 && drawn.every((m) => m > 20), `three drawn shots: mean levels ${drawn}`);

    // The same at phone width: usable, no sideways scrolling of the page.
    const phone = await ctx.open('phone');
    await ctx.login(phone, client.email, client.password);
    await phone.locator('#folder-results tbody tr').first().waitFor();
    await ctx.noSideScroll(phone);
    await ctx.shot(phone, 'folders');
    await phone.goto(`/console/#/folders/${checked.folder_id}`);
    await phone.locator('img.best-shot').first().waitFor();
    await ctx.noSideScroll(phone);
    await ctx.shot(phone, 'folder');

    // The token is in sessionStorage only, never in the address or localStorage.
    const store = await page.evaluate(() => ({ local: JSON.stringify(localStorage), url: location.href, session: sessionStorage.getItem('openoz.session') }));
    assert(store.local === '{}', `localStorage holds ${store.local}`);
    assert(store.session && !store.url.includes(JSON.parse(store.session).token), 'token kept in the session only');
    const token = JSON.parse(store.session).token;

    // Log out: the token is revoked on the server and the page goes back to the login form.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    const after = await ctx.api(token, 'GET', '/api/folders/');
    assert(after.status === 401, `the logged-out token still works: ${after.status}`);
  },
};
