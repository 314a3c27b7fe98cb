// Words for operators: an empty company's folder list says there are no folders yet (not "no
// match"), and API errors reach the page in plain words: no setting names, byte counts or ids.
const seed = require('../seed.cjs');

module.exports = {
  name: 'wording: an empty install, errors in plain words',
  async run(ctx) {
    const { assert } = ctx;
    const co = await seed.company(ctx, 'empty');
    const client = await seed.user(ctx, 'CLIENT', co.company_id);
    const page = await ctx.open('desktop');
    await ctx.login(page, client.email, client.password);
    await page.getByRole('heading', { name: 'Folders', level: 1 }).waitFor();
    await page.locator('#folder-results').getByText('No folders yet').waitFor();

    // With a filter on, the same empty list is "no match".
    await page.goto('/console/#/folders?search_text=nothing-like-this');
    await page.locator('#folder-results').getByText('No folder matches these filters').waitFor();

    // The console's error wording, fed the API's precise answers.
    const shown = await page.evaluate(async () => {
      const ui = await import('/console/js/ui.js');
      const api = await import('/console/js/api.js');
      const err = (status, body) => new api.ApiError(status, body);
      return {
        large: ui.plainMessage(err(413, { error_code: 4, error_message: 'media "video1" is 31457280 bytes, OZ_ATTACHMENT_MAX_SIZE is 10485760' })),
        busy: ui.plainMessage(err(503, { error_code: 11, error_message: 'the server is busy analysing other media: retry later' })),
        limit: ui.plainMessage(err(429, { error_code: 11, error_message: 'this company holds 1000 unused challenges (OZ_CHALLENGE_MAX_OPEN)' })),
        id: ui.plainMessage(err(400, { error_code: 4, error_message: 'source_media 0b7f6c1e-8d2a-4c3b-9e4f-5a6b7c8d9e0f is not in this folder' })),
        face: ui.plainMessage({ message: 'media 0b7f6c1e-8d2a-4c3b-9e4f-5a6b7c8d9e0f ("photo1"): no face found in any sampled frame' }),
        field: ui.plainMessage(err(400, { error_code: 4, error_message: 'email is not a valid address' })),
        server: ui.plainMessage(err(500, { error_code: 0, error_message: 'Unknown server side error occurred' })),
      };
    });
    for (const [what, text] of Object.entries(shown)) {
      assert(!/OZ_|\bbytes?\b|[0-9a-f]{8}-[0-9a-f]{4}-/.test(text), `${what}: no setting, byte count or id in "${text}"`);
      assert(text.length > 10, `${what}: a sentence: "${text}"`);
    }
    assert(shown.large.includes('larger than the server accepts'), `413: ${shown.large}`);
    assert(shown.busy.includes('busy'), `503: ${shown.busy}`);
    assert(shown.face === 'no face found in any sampled frame', `the reason stays: ${shown.face}`);
    assert(shown.field === 'email is not a valid address', `a plain API message stays: ${shown.field}`);
    return `empty list and ${Object.keys(shown).length} error texts checked`;
  },
};
