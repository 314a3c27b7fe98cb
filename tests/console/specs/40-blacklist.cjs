// Blacklist collections in the console: an ADMIN creates a collection for a fresh company in the
// page, that company's CLIENT ADMIN adds a person with a face photo and searches photos against
// the collection (a COLLECTION analysis in a single request): the same man is found with a
// confidence, another man is not, a photo without a face shows the API's error.

const PASSWORD = 'blacklist-pass-1';

async function countPhotos(page, name) {
  return page.getByRole('list', { name: `Photos of ${name}` }).getByRole('img').count();
}

/** Waits until every <img> in the locator has loaded pixels (the signed link served). */
async function imagesLoaded(ctx, locator, what) {
  await ctx.until(async () => locator.evaluateAll((imgs) => imgs.length > 0
    && imgs.every((i) => i.complete && i.naturalWidth > 0)), 20000, what);
}

/** Waits for the toast to fade, so screenshots show the page only. */
async function calm(page) {
  await page.locator('#toast.show').waitFor({ state: 'detached', timeout: 10000 });
}

module.exports = {
  name: 'blacklist: collections, persons, search',
  run: async (ctx) => {
    const { assert, must, api } = ctx;
    const admin = ctx.admin.token;

    // A fresh company with its CLIENT ADMIN; another company with a collection of its own.
    const company = await must(admin, 'POST', '/api/companies/', { json: { name: ctx.unique('bl-co') } });
    const other = await must(admin, 'POST', '/api/companies/', { json: { name: ctx.unique('bl-other') } });
    const otherAlias = ctx.unique('other-list');
    const otherCol = await must(admin, 'POST', '/api/collections/', { json: { alias: otherAlias, company_id: other.company_id } });
    const email = `${ctx.unique('bl-admin')}@console.test`;
    await must(admin, 'POST', '/api/users/', {
      json: { email, password: PASSWORD, user_type: 'CLIENT', is_admin: true, company_id: company.company_id },
    });
    const opEmail = `${ctx.unique('bl-op')}@console.test`;
    await must(admin, 'POST', '/api/users/', { json: { email: opEmail, password: PASSWORD, user_type: 'OPERATOR' } });

    // ADMIN creates the collection for the company, choosing it in the form.
    const ap = await ctx.open('desktop');
    ap.on('dialog', (d) => d.accept());
    await ctx.login(ap, ctx.admin.email, ctx.admin.password);
    await ap.getByRole('link', { name: 'Blacklist' }).click();
    await ap.getByRole('heading', { name: 'Blacklist collections' }).waitFor();
    const alias = ctx.unique('watch');
    await ap.getByLabel('Alias').fill(alias);
    await ap.getByLabel('Company', { exact: true }).selectOption({ label: company.name });
    await ap.getByRole('button', { name: 'Create collection' }).click();
    await ap.getByRole('heading', { name: `Collection “${alias}”` }).waitFor();
    const cols = await must(admin, 'GET', `/api/collections/?company_id=${company.company_id}`);
    assert(cols.length === 1 && cols[0].alias === alias, `the API holds the new collection: ${JSON.stringify(cols)}`);
    const col = cols[0];
    assert(ap.url().endsWith(`#/collections/${col.collection_id}`), `the page moved to the collection: ${ap.url()}`);
    // A second collection with the same alias in the company is the API's error, shown in the form.
    await ap.getByRole('link', { name: '← All collections' }).click();
    await ap.getByLabel('Alias').fill(alias);
    await ap.getByLabel('Company', { exact: true }).selectOption({ label: company.name });
    await ap.getByRole('button', { name: 'Create collection' }).click();
    await ap.getByRole('alert').waitFor();
    // The list names the company and shows both companies' collections to the ADMIN.
    const row = ap.getByRole('row').filter({ hasText: alias });
    await row.waitFor();
    assert((await row.innerText()).includes(company.name), 'the list shows the company name');
    await ap.getByRole('row').filter({ hasText: otherAlias }).waitFor();
    await ap.reload();
    await ap.getByRole('link', { name: alias }).waitFor();
    await ctx.shot(ap, 'collections');

    // The company's CLIENT ADMIN sees only its company's collection.
    const cp = await ctx.open('desktop');
    cp.on('dialog', (d) => d.accept());
    await ctx.login(cp, email, PASSWORD);
    await cp.getByRole('link', { name: 'Blacklist' }).click();
    await cp.getByRole('link', { name: alias }).waitFor();
    assert(await cp.getByRole('link', { name: otherAlias }).count() === 0, "another company's collection is not listed");
    assert(await cp.getByLabel('Company', { exact: true }).count() === 0, 'no company choice for a CLIENT ADMIN');
    await cp.getByRole('link', { name: alias }).click();
    await cp.getByRole('heading', { name: `Collection “${alias}”` }).waitFor();
    await cp.getByRole('heading', { name: 'Persons (0)' }).waitFor();

    // A photo without a face: the API's error, nothing stored.
    await cp.getByLabel('Face photos').setInputFiles(ctx.fixture('faces/extra/cat.png'));
    await cp.getByLabel('First name').fill('Cat');
    await cp.getByRole('button', { name: 'Add person' }).click();
    const addErr = cp.getByRole('alert').filter({ hasText: 'no face found' });
    await addErr.waitFor();
    assert((await addErr.innerText()).includes('cat.png'), 'the error names the refused file');
    // A photo with several people: refused too.
    await cp.getByLabel('Face photos').setInputFiles(ctx.fixture('faces/extra/group_t1.jpg'));
    await cp.getByRole('button', { name: 'Add person' }).click();
    await cp.getByRole('alert').filter({ hasText: 'faces found' }).waitFor();
    let persons = await must(admin, 'GET', `/api/collections/${col.collection_id}/persons/`);
    assert(persons.total === 0, `refused photos store no person: ${persons.total}`);

    // The person with a face photo.
    await cp.getByLabel('Face photos').setInputFiles(ctx.fixture('faces/live/obama__portrait.jpg'));
    await cp.getByLabel('First name').fill('Barack');
    await cp.getByLabel('Last name').fill('Obama');
    await cp.getByRole('button', { name: 'Add person' }).click();
    await cp.getByRole('heading', { name: 'Barack Obama' }).waitFor();
    await cp.getByRole('heading', { name: 'Persons (1)' }).waitFor();
    assert(await cp.getByRole('alert').count() === 0, 'the error went away');
    persons = await must(admin, 'GET', `/api/collections/${col.collection_id}/persons/`);
    assert(persons.total === 1, `one person stored: ${persons.total}`);
    const person = persons.items[0];
    assert(person.meta_data.person_info.first_name === 'Barack' && person.meta_data.person_info.last_name === 'Obama',
      `person_info stored: ${JSON.stringify(person.meta_data)}`);
    await imagesLoaded(ctx, cp.getByRole('img', { name: 'Photo 1 of Barack Obama' }), 'the person photo');

    // A second photo of the person, then it is removed again.
    await cp.getByLabel('New photo of Barack Obama').setInputFiles(ctx.fixture('faces/live/obama__podium.jpg'));
    await cp.getByRole('button', { name: 'Add photo' }).click();
    await cp.getByRole('img', { name: 'Photo 2 of Barack Obama' }).waitFor();
    assert(await countPhotos(cp, 'Barack Obama') === 2, 'two photos shown');
    let images = await must(admin, 'GET', `/api/collections/${col.collection_id}/persons/${person.person_id}/images/`);
    assert(images.length === 2, `two photos stored: ${images.length}`);
    await cp.getByRole('button', { name: 'Remove photo 2 of Barack Obama' }).click();
    await ctx.until(async () => (await countPhotos(cp, 'Barack Obama')) === 1, 10000, 'the photo to go');
    images = await must(admin, 'GET', `/api/collections/${col.collection_id}/persons/${person.person_id}/images/`);
    assert(images.length === 1 && images[0].original_name === 'obama__portrait.jpg', 'the chosen photo was removed');
    await calm(cp);
    await ctx.shot(cp, 'collection');

    // Search: the same man in another photo is found, with a confidence.
    await cp.getByLabel('Photo to search').setInputFiles(ctx.fixture('faces/live/obama__full.jpg'));
    await cp.getByRole('button', { name: 'Search' }).click();
    await cp.getByText('Found 1 person of this collection in the photo.').waitFor({ timeout: 60000 });
    const match = cp.getByRole('list', { name: 'Matches' }).getByRole('listitem');
    assert(await match.count() === 1, 'one match listed');
    const text = await match.innerText();
    assert(text.includes('Barack Obama'), `the match names the person: ${text}`);
    // A hit is a warning, not a success: the warning card, "On this list", a meter red past the threshold.
    assert((await match.getAttribute('class')).split(' ').includes('warn') && text.includes('ON THIS LIST'), `a hit is drawn as a warning: ${text}`);
    assert(await match.locator('meter').getAttribute('optimum') === '0', 'the meter treats a high confidence as bad');
    const conf = Number((/Confidence\s+([0-9.]+)/.exec(text) || [])[1]);
    assert(conf >= 0.85 && conf <= 1, `a match confidence at or above the threshold: ${text}`);
    await imagesLoaded(ctx, match.getByRole('img', { name: 'Matched photo of Barack Obama' }), 'the matched photo');
    const href = await cp.getByRole('link', { name: 'Open the folder' }).getAttribute('href');
    const folderId = (/^#\/folders\/([0-9a-f-]{36})$/.exec(href || '') || [])[1];
    assert(folderId, `a link to the created folder: ${href}`);
    const folder = await must(ctx.admin.token, 'GET', `/api/folders/${folderId}/?with_analyses=true`);
    const an = folder.analyses.find((a) => a.type === 'COLLECTION');
    assert(an && an.results_media[0].collection_persons[0].person_id === person.person_id,
      'the folder holds the COLLECTION analysis that found the person');
    assert(Math.abs(an.results_media[0].collection_persons[0].confidence - conf) < 0.001, 'the page shows the API confidence');
    assert(folder.company_id === company.company_id, "the search folder belongs to the CLIENT ADMIN's company");
    await calm(cp);
    await ctx.shot(cp, 'collection-search');

    // The folder page of that search: the COLLECTION analysis with the matched person's photo.
    await cp.goto(`/console/#/folders/${folderId}`);
    const matches = cp.getByRole('table', { name: 'Blacklist matches' });
    await matches.waitFor();
    assert((await matches.innerText()).includes(conf.toFixed(3)), 'the folder page shows the match score');
    await ctx.waitIn(cp, () => { const i = document.querySelector('.person img.thumb'); return i && i.complete && i.naturalWidth > 0; });
    await cp.goBack();
    await cp.getByLabel('Photo to search').waitFor();

    // Another man: nobody found.
    await cp.getByLabel('Photo to search').setInputFiles(ctx.fixture('faces/live/biden__full.jpg'));
    await cp.getByRole('button', { name: 'Search' }).click();
    await cp.getByText('Nobody in this collection matches this photo.').waitFor({ timeout: 60000 });
    assert(await cp.getByRole('list', { name: 'Matches' }).count() === 0, 'no match listed');

    // No face: the analysis' error.
    await cp.getByLabel('Photo to search').setInputFiles(ctx.fixture('faces/extra/cat.png'));
    await cp.getByRole('button', { name: 'Search' }).click();
    const searchErr = cp.getByRole('alert').filter({ hasText: 'no face found' });
    await searchErr.waitFor({ timeout: 60000 });
    // The Oz code stays on the element for support (data-code), out of the operator's text.
    assert(await searchErr.getAttribute('data-code') === '4', 'the error code is kept on the alert');
    assert(!(await searchErr.innerText()).includes('error 4'), 'the text is the reason only');

    // Phone width: the list, the collection and a search result fit without sideways scroll.
    const pp = await ctx.open('phone');
    await ctx.login(pp, email, PASSWORD);
    await pp.goto(`/console/#/collections`);
    await pp.getByRole('link', { name: alias }).waitFor();
    await ctx.noSideScroll(pp);
    await calm(pp);
    await ctx.shot(pp, 'collections');
    await pp.getByRole('link', { name: alias }).click();
    await pp.getByRole('heading', { name: 'Barack Obama' }).waitFor();
    await imagesLoaded(ctx, pp.getByRole('img', { name: 'Photo 1 of Barack Obama' }), 'the person photo (phone)');
    await ctx.noSideScroll(pp);
    await calm(pp);
    await ctx.shot(pp, 'collection');
    await pp.getByLabel('Photo to search').setInputFiles(ctx.fixture('faces/live/obama__full.jpg'));
    await pp.getByRole('button', { name: 'Search' }).click();
    await pp.getByText('Found 1 person of this collection in the photo.').waitFor({ timeout: 60000 });
    await imagesLoaded(ctx, pp.getByRole('img', { name: 'Matched photo of Barack Obama' }), 'the matched photo (phone)');
    await ctx.noSideScroll(pp);
    await calm(pp);
    await ctx.shot(pp, 'collection-search');

    // A role that cannot upload is told so instead of a search form.
    const op = await ctx.open('desktop');
    await ctx.login(op, opEmail, PASSWORD);
    await op.goto(`/console/#/collections/${col.collection_id}`);
    await op.getByText('cannot search').waitFor();
    assert(await op.getByLabel('Photo to search').count() === 0, 'no search form for OPERATOR');
    assert(await op.getByRole('button', { name: 'Add person' }).count() === 0, 'no person form for OPERATOR');

    // Removing the person, then the ADMIN deletes the other company's collection from the list.
    await cp.getByRole('button', { name: 'Remove person Barack Obama' }).click();
    await cp.getByRole('heading', { name: 'Persons (0)' }).waitFor();
    persons = await must(admin, 'GET', `/api/collections/${col.collection_id}/persons/`);
    assert(persons.total === 0, 'the person is gone from the API');
    await ap.reload();
    await ap.getByRole('button', { name: `Delete collection ${otherAlias}` }).click();
    await ctx.until(async () => (await ap.getByRole('link', { name: otherAlias }).count()) === 0, 10000, 'the row to go');
    const gone = await api(admin, 'GET', `/api/collections/${otherCol.collection_id}/`);
    assert(gone.status === 404, `the deleted collection answers 404: ${gone.status}`);
  },
};
