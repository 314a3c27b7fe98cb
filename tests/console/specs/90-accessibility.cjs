// Accessibility: sign in and move around with the keyboard only; every main page, at desktop and
// phone width, passes axe-core's WCAG 2.1 A/AA rules (labels, names, contrast, landmarks, ...).
const seed = require('../seed.cjs');

async function settled(ctx, page) {
  await page.locator('main h1').first().waitFor();
  await ctx.waitIn(page, () => !document.querySelector('main').textContent.includes('Loading…'));
  await page.waitForTimeout(150);
}

module.exports = {
  name: 'accessibility: keyboard only, axe-core WCAG 2.1 AA on every page',
  async run(ctx) {
    const { assert } = ctx;
    const co = await seed.company(ctx, 'a11y');
    const client = await seed.user(ctx, 'CLIENT', co.company_id, { is_admin: true });
    const op = await seed.user(ctx, 'OPERATOR', null);
    const f = await seed.folder(ctx, client.token, [seed.SELFIE, seed.ID_BIDEN], {
      meta: { transaction_id: ctx.unique('tx') }, analyses: [{ type: 'QUALITY' }, { type: 'BIOMETRY' }],
    });
    const bio = f.analyses.find((a) => a.type === 'BIOMETRY');
    const col = await ctx.must(client.token, 'POST', '/api/collections/', { json: { alias: ctx.unique('bl') } });

    // Keyboard only: the email field has focus, Tab to the password, Enter submits.
    const page = await ctx.open('desktop');
    await page.goto('/console/');
    await page.getByLabel('Email').waitFor();
    assert(await page.evaluate(() => document.activeElement && document.activeElement.name === 'email'), 'the email field has focus');
    await page.keyboard.type(client.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(client.password);
    await page.keyboard.press('Enter');
    await page.locator('#logout').waitFor();
    await settled(ctx, page);
    // After a page load, the skip link is the first stop and moves focus to the content.
    await page.reload();
    await settled(ctx, page);
    await page.keyboard.press('Tab');
    assert(await page.evaluate(() => document.activeElement.id === 'skip'), 'the first Tab reaches "Skip to content"');
    await page.keyboard.press('Enter');
    assert(await page.evaluate(() => document.activeElement.id === 'main'), 'the skip link focuses the content');
    // Reach the Blacklist menu entry with Tab from the top, open it with Enter.
    await page.evaluate(() => document.getElementById('skip').focus());
    let found = false;
    for (let i = 0; i < 20 && !found; i += 1) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement.textContent === 'Blacklist');
    }
    assert(found, 'the menu is reachable with Tab');
    // The focus ring is visible (not removed by the styles).
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert(outline !== 'none', `focused elements have a visible outline (${outline})`);
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/collections$/);
    await settled(ctx, page);

    const pages = [
      ['folders', '#/folders'],
      ['folder', `#/folders/${f.folder_id}`],
      ['collections', '#/collections'],
      ['collection', `#/collections/${col.collection_id}`],
      ['companies', '#/companies'],
      ['users', '#/users'],
      ['user', `#/users/${client.user_id}`],
      ['decisions', '#/audit'],
      ['statistics', '#/stats'],
      ['try it', '#/try'],
    ];
    const phone = await ctx.open('phone');
    await ctx.login(phone, client.email, client.password);
    for (const p of [page, phone]) {
      for (const [what, hash] of pages) {
        await p.goto(`/console/${hash}`);
        await settled(ctx, p);
        await ctx.axe(p, what);
        if (p === phone) await ctx.noSideScroll(p);
      }
    }
    // The operator's pages.
    const opPage = await ctx.open('desktop');
    await ctx.login(opPage, op.email, op.password);
    for (const [what, hash] of [['queue', '#/queue'], ['case', `#/queue/${bio.analysis_id}`]]) {
      await opPage.goto(`/console/${hash}`);
      await settled(ctx, opPage);
      await ctx.axe(opPage, what);
    }
    // The login page itself, with its error.
    const anon = await ctx.open('desktop');
    await anon.goto('/console/');
    await anon.getByLabel('Email').fill('nobody@console.test');
    await anon.getByLabel('Password').fill('wrong-password');
    await anon.getByRole('button', { name: 'Log in' }).click();
    await anon.getByRole('alert').waitFor();
    await ctx.axe(anon, 'login');
  },
};
