// Tenant isolation in the console is the API's: a CLIENT of company A cannot see company B's
// folder in the list, by search, by its address, nor its files; an expired or revoked session
// sends the page back to the login form.
const seed = require('../seed.cjs');

module.exports = {
  name: 'isolation: a CLIENT cannot see another company\'s folder in the console',
  async run(ctx) {
    const { assert } = ctx;
    const coA = await seed.company(ctx, 'tenant-a');
    const coB = await seed.company(ctx, 'tenant-b');
    const a = await seed.user(ctx, 'CLIENT', coA.company_id);
    const b = await seed.user(ctx, 'CLIENT', coB.company_id);
    const mine = await seed.folder(ctx, a.token, [seed.PHOTO_OBAMA], { meta: { owner: 'a' } });
    const secret = ctx.unique('secret');
    const theirs = await seed.folder(ctx, b.token, [seed.PHOTO_OBAMA], { meta: { owner: 'b', secret } });

    const page = await ctx.open('desktop');
    await ctx.login(page, a.email, a.password);
    await page.getByRole('link', { name: `Folder ${mine.folder_id}` }).waitFor();
    assert(await page.getByRole('link', { name: `Folder ${theirs.folder_id}` }).count() === 0, 'B\'s folder is listed to A');

    // Search for B's folder id and B's metadata: nothing.
    for (const text of [theirs.folder_id, secret]) {
      await page.goto(`/console/#/folders?search_text=${encodeURIComponent(text)}`);
      await page.getByText('No folder matches these filters.').waitFor();
    }
    // B's folder by its address: the API's 404, nothing of the folder on the page.
    await page.goto(`/console/#/folders/${theirs.folder_id}`);
    await page.getByRole('alert').filter({ hasText: 'Folder does not exist' }).waitFor();
    const text = await page.locator('main').innerText();
    assert(!text.includes(secret), 'B\'s metadata reached A\'s page');
    await ctx.shot(page, 'isolation');
    // B's stored file, with A's token: 404.
    const stored = new URL(theirs.media[0].original_url).pathname;
    const tokenA = await page.evaluate(() => JSON.parse(sessionStorage.getItem('openoz.session')).token);
    const file = await ctx.api(tokenA, 'GET', stored);
    assert(file.status === 404, `B's file with A's token: ${file.status}`);

    // A session revoked elsewhere (the admin revokes A's sessions): the next page load asks to
    // log in again, and says why.
    await ctx.must(ctx.admin.token, 'DELETE', `/api/users/${a.user_id}/sessions/`);
    await page.goto('/console/#/folders');
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    await page.getByText('Your session has ended').waitFor();
    // Logging in again brings A back to the page it wanted.
    await page.getByLabel('Email').fill(a.email);
    await page.getByLabel('Password').fill(a.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('link', { name: `Folder ${mine.folder_id}` }).waitFor();
  },
};
