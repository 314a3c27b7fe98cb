// Operator work: a BIOMETRY pair in the review band waits in the queue; a CLIENT OPERATOR opens
// it, sees the evidence side by side, declines it with a comment; the analysis and folder hold the
// decision (API) and the audit trail shows it. A CLIENT sees no decision form.
const seed = require('../seed.cjs');

module.exports = {
  name: 'operator: queue, evidence, decision with comment, audit trail',
  async run(ctx) {
    const { assert } = ctx;
    const co = await seed.company(ctx, 'ops');
    const client = await seed.user(ctx, 'CLIENT', co.company_id);
    const op = await seed.user(ctx, 'CLIENT_OPERATOR', co.company_id);
    const f = await seed.folder(ctx, client.token, [seed.SELFIE, seed.ID_BIDEN], { analyses: [{ type: 'QUALITY' }, { type: 'BIOMETRY' }] });
    const bio = f.analyses.find((a) => a.type === 'BIOMETRY');
    assert(bio && bio.resolution_status === 'OPERATOR_REQUIRED', `seed: BIOMETRY is ${bio && bio.resolution_status}`);
    // A second case waits behind it: "Next case" leads there after a decision.
    const f2 = await seed.folder(ctx, client.token, [seed.SELFIE, seed.ID_BIDEN], { analyses: [{ type: 'BIOMETRY' }] });
    const bio2 = f2.analyses.find((a) => a.type === 'BIOMETRY');
    assert(bio2 && bio2.resolution_status === 'OPERATOR_REQUIRED', `seed: second BIOMETRY is ${bio2 && bio2.resolution_status}`);

    const page = await ctx.open('desktop');
    await ctx.login(page, op.email, op.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operator queue' }).click();
    await page.getByRole('heading', { name: 'Operator queue' }).waitFor();
    const open = page.getByRole('link', { name: `Open case ${bio.analysis_id}` });
    await open.waitFor();
    await ctx.shot(page, 'queue');
    await open.click();

    // Evidence: the selfie's best shot and the ID photo, with the score.
    await page.getByRole('heading', { name: `BIOMETRY case ${bio.analysis_id.slice(0, 8)}` }).waitFor();
    await page.getByRole('img', { name: 'Best shot of portrait_720x1280.mp4' }).waitFor();
    await ctx.waitIn(page, () => [...document.querySelectorAll('.evidence img')].filter((i) => i.complete && i.naturalWidth > 0).length >= 2);
    const ev = await page.locator('.evidence').allInnerTexts();
    assert(ev.some((t) => /similarity 0\.\d{3}, same person at 0\.\d\d or more/.test(t)), `score shown with its meaning: ${ev}`);

    // Decide: decline with a comment.
    const comment = `Different person on the ID (${ctx.unique('c')})`;
    await page.getByLabel('Decline (DECLINED)').check();
    await page.getByLabel('Comment').fill(comment);
    await ctx.shot(page, 'case');
    await page.getByRole('button', { name: 'Save decision' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved: DECLINED.' }).waitFor();
    const next = page.getByRole('link', { name: 'Next case' });
    await next.waitFor();
    assert((await next.getAttribute('href')).endsWith(bio2.analysis_id), `next case: ${await next.getAttribute('href')}`);
    const trail = page.getByRole('table', { name: 'Operator decisions' });
    await trail.getByText(comment).waitFor();
    assert((await trail.innerText()).includes(op.email), 'the audit row names the operator');

    // Replacing it: refused without a comment, then asks to confirm, then both stay in the trail.
    await page.getByLabel('Approve (SUCCESS)').check();
    await page.getByRole('button', { name: 'Save decision' }).click();
    await page.getByRole('alert').filter({ hasText: 'say why in the comment' }).waitFor();
    const why = `Phoned the customer (${ctx.unique('w')})`;
    await page.getByLabel('Comment').fill(why);
    await page.getByRole('button', { name: 'Save decision' }).click();
    await page.getByRole('alert').filter({ hasText: 'This replaces the decision DECLINED' }).waitFor();
    const still = await ctx.must(client.token, 'GET', `/api/analyses/${bio.analysis_id}/`);
    assert(still.resolution_status === 'DECLINED', `nothing sent before the confirmation: ${still.resolution_status}`);
    await page.getByRole('button', { name: 'Replace decision' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved: SUCCESS.' }).waitFor();
    await trail.getByText(why).waitFor();
    await trail.getByText(comment).waitFor();
    // And back to the decline this spec checks below, again with a reason.
    const final = `Confirmed: ${comment}`;
    await page.getByLabel('Decline (DECLINED)').check();
    await page.getByLabel('Comment').fill(final);
    await page.getByRole('button', { name: 'Save decision' }).click();
    await page.getByRole('button', { name: 'Replace decision' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved: DECLINED.' }).waitFor();
    await trail.getByText(final).waitFor();
    assert(await trail.locator('tbody tr').count() === 3, 'three decisions in the trail');

    // The API holds it.
    const a = await ctx.must(client.token, 'GET', `/api/analyses/${bio.analysis_id}/`);
    assert(a.resolution_status === 'DECLINED' && a.operator_comment === final && a.resolution_operator === op.user_id,
      `analysis after the decision: ${a.resolution_status} ${a.operator_comment}`);
    const folder = await ctx.must(client.token, 'GET', `/api/folders/${f.folder_id}/`);
    assert(folder.operator_status === 'DECLINED', `folder operator_status ${folder.operator_status}`);

    // The queue no longer lists it; the decisions page does.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operator queue' }).click();
    await page.getByRole('heading', { name: 'Operator queue' }).waitFor();
    await page.locator('main table, main .empty').first().waitFor();
    assert(await page.getByRole('link', { name: `Open case ${bio.analysis_id}` }).count() === 0, 'decided case still queued');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Decisions' }).click();
    await page.getByRole('table', { name: 'Operator decisions' }).getByText(final).waitFor();
    await ctx.shot(page, 'decisions');

    // Phone width.
    const phone = await ctx.open('phone');
    await ctx.login(phone, op.email, op.password);
    await phone.goto(`/console/#/queue/${bio.analysis_id}`);
    await phone.getByRole('img', { name: 'Best shot of portrait_720x1280.mp4' }).waitFor();
    await ctx.noSideScroll(phone);
    await ctx.shot(phone, 'case');

    // The CLIENT who uploaded sees the decision but no decision form (the API would answer 403).
    const cpage = await ctx.open('desktop');
    await ctx.login(cpage, client.email, client.password);
    await cpage.goto(`/console/#/folders/${f.folder_id}`);
    await cpage.getByRole('article', { name: 'BIOMETRY analysis' }).getByText(final).waitFor();
    assert(await cpage.getByRole('link', { name: /Review/ }).count() === 0, 'a CLIENT is offered the decision form');
    assert(await cpage.getByRole('link', { name: 'Operator queue' }).count() === 0, 'a CLIENT sees the operator queue');
  },
};
