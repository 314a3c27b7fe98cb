// Companies and users in the console: an ADMIN creates a company and its CLIENT ADMIN in the
// page; that user logs in; ending its sessions logs a signed-in page out; a password reset makes
// the old password fail; a webhook secret is shown once; a CLIENT ADMIN lists only its company's
// users; a company with folders is deleted only after a second confirmation (force).

const PW1 = 'admin-spec-pass-1';
const PW2 = 'admin-spec-pass-2';

async function loginStatus(ctx, email, password) {
  const r = await ctx.api(null, 'POST', '/api/authorize/auth', { json: { credentials: { email, password } } });
  return r.status;
}

/** The emails in the users table of the page. */
async function listedEmails(page) {
  const table = page.getByRole('region', { name: 'Users', exact: true });
  await table.waitFor();
  return table.locator('tbody tr td:first-child a').allInnerTexts();
}

/** Waits for the toast to fade, so screenshots show the page only. */
async function calm(page) {
  await page.locator('#toast.show').waitFor({ state: 'detached', timeout: 10000 });
}

module.exports = {
  name: 'admin: companies, users, sessions, webhook secret',
  run: async (ctx) => {
    const { assert, must, api } = ctx;
    const admin = ctx.admin.token;

    const ap = await ctx.open('desktop');
    const dialogs = [];
    ap.on('dialog', (d) => { dialogs.push(d.message()); d.accept(); });
    await ctx.login(ap, ctx.admin.email, ctx.admin.password);

    // --- a company, created in the page
    await ap.getByRole('link', { name: 'Companies' }).click();
    await ap.getByRole('heading', { name: 'Companies', exact: true }).waitFor();
    const coName = ctx.unique('Acme');
    await ap.getByLabel('Company name').fill(coName);
    await ap.getByRole('button', { name: 'Create company' }).click();
    await ap.getByRole('heading', { name: coName, level: 1 }).waitFor();
    const found = await must(admin, 'GET', `/api/companies/?search_text=${encodeURIComponent(coName)}`);
    assert(found.total === 1 && found.items[0].name === coName, `the API holds the company: ${JSON.stringify(found)}`);
    const company = found.items[0];
    assert(ap.url().endsWith(`#/companies/${company.company_id}`), `the page shows the company: ${ap.url()}`);

    // Rename.
    const newName = `${coName} Ltd`;
    await ap.getByLabel('Company name').fill(newName);
    await ap.getByRole('button', { name: 'Rename' }).click();
    await ap.getByRole('heading', { name: newName, level: 1 }).waitFor();
    const renamed = await must(admin, 'GET', `/api/companies/${company.company_id}/`);
    assert(renamed.name === newName, `renamed in the API: ${renamed.name}`);

    // --- webhook secret: shown once
    await ap.getByText('Not set', { exact: true }).waitFor();
    await ap.getByRole('button', { name: 'Create secret' }).click();
    const secretBox = ap.getByLabel('New webhook secret');
    await secretBox.waitFor();
    const secret = await secretBox.inputValue();
    assert(/^whsec_[0-9a-f]{64}$/.test(secret), `a secret is shown: ${secret}`);
    await ap.getByText('Copy this secret now').waitFor();
    await ap.getByText('Set', { exact: true }).waitFor();
    let st = await must(admin, 'GET', `/api/companies/${company.company_id}/webhook_secret/`);
    assert(st.is_set === true, 'the API says a secret is set');
    const stored = await ap.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
    assert(!stored.includes(secret), 'the secret is not kept in the browser storage');
    await calm(ap);
    await ctx.shot(ap, 'company');
    await ap.reload();
    await ap.getByText('Set', { exact: true }).waitFor();
    assert(await ap.getByLabel('New webhook secret').count() === 0, 'the secret is not shown again after a reload');
    assert(!(await ap.content()).includes(secret), 'the page no longer holds the secret');
    await ap.getByRole('button', { name: 'Rotate secret' }).click();
    await ap.getByLabel('New webhook secret').waitFor();
    const secret2 = await ap.getByLabel('New webhook secret').inputValue();
    assert(/^whsec_[0-9a-f]{64}$/.test(secret2) && secret2 !== secret, 'rotation makes a new secret');
    assert(dialogs.some((m) => m.includes('stops working')), 'rotation asks first');
    await ap.getByRole('button', { name: 'Remove secret' }).click();
    await ap.getByText('Not set', { exact: true }).waitFor();
    st = await must(admin, 'GET', `/api/companies/${company.company_id}/webhook_secret/`);
    assert(st.is_set === false, 'the API says the secret is removed');
    await ap.getByRole('button', { name: 'Create secret' }).click();
    await ap.getByLabel('New webhook secret').waitFor();
    st = await must(admin, 'GET', `/api/companies/${company.company_id}/webhook_secret/`);
    assert(st.is_set === true, 'set again');

    // --- a CLIENT ADMIN of the company, created in the page
    await ap.getByRole('link', { name: 'Users', exact: true }).click();
    await ap.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    const email = `${ctx.unique('cadmin')}@console.test`;
    await ap.getByLabel('Email', { exact: true }).fill(email);
    await ap.getByLabel('Password', { exact: true }).fill(PW1);
    await ap.getByLabel('First name').fill('Carla');
    await ap.getByLabel('Last name').fill('Admin');
    await ap.getByLabel('Role', { exact: true }).selectOption('CLIENT');
    await ap.getByLabel('Company', { exact: true }).selectOption({ label: newName });
    await ap.getByLabel('Company admin').check();
    await ap.getByRole('button', { name: 'Create user' }).click();
    await ap.getByRole('heading', { name: email, level: 1 }).waitFor();
    const users = await must(admin, 'GET', `/api/users/?search_text=${encodeURIComponent(email)}`);
    assert(users.total === 1, `the API holds the user: ${JSON.stringify(users)}`);
    const user = users.items[0];
    assert(user.user_type === 'CLIENT' && user.is_admin === true && user.company_id === company.company_id
      && user.first_name === 'Carla', `created as CLIENT ADMIN of the company: ${JSON.stringify(user)}`);
    await ap.getByText('CLIENT ADMIN').first().waitFor();

    // Users of another company, to be left out of the CLIENT ADMIN's list.
    const elsewhere = await must(admin, 'POST', '/api/companies/', { json: { name: ctx.unique('elsewhere') } });
    const strangerEmail = `${ctx.unique('stranger')}@console.test`;
    await must(admin, 'POST', '/api/users/', { json: { email: strangerEmail, password: PW1, user_type: 'CLIENT', company_id: elsewhere.company_id } });

    // --- the new user logs in, in a fresh context
    const up = await ctx.open('desktop');
    up.on('dialog', (d) => d.accept());
    await ctx.login(up, email, PW1);
    await up.locator('#who').getByText('CLIENT ADMIN').waitFor();
    await up.getByRole('link', { name: 'Users', exact: true }).click();
    await up.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    // Its role choices are the company's; no company choice.
    const roles = await up.getByLabel('Role', { exact: true }).locator('option').allInnerTexts();
    assert(JSON.stringify(roles) === '["CLIENT","CLIENT_OPERATOR"]', `a CLIENT ADMIN gives client roles only: ${roles}`);
    assert(await up.getByLabel('Company', { exact: true }).count() === 0, 'no company choice for a CLIENT ADMIN');
    // It creates a CLIENT_OPERATOR of its company in the page.
    const opEmail = `${ctx.unique('cop')}@console.test`;
    await up.getByLabel('Email', { exact: true }).fill(opEmail);
    await up.getByLabel('Password', { exact: true }).fill(PW1);
    await up.getByLabel('Role', { exact: true }).selectOption('CLIENT_OPERATOR');
    assert(await up.getByLabel('Company admin').isDisabled(), '"company admin" applies to CLIENT only');
    await up.getByRole('button', { name: 'Create user' }).click();
    await up.getByRole('heading', { name: opEmail, level: 1 }).waitFor();
    await up.getByRole('link', { name: '← All users' }).click();
    const listed = await listedEmails(up);
    const mine = await must(admin, 'GET', `/api/users/?company_id=${company.company_id}`);
    assert(listed.length === mine.total && mine.items.every((u) => listed.includes(u.email)),
      `the CLIENT ADMIN lists exactly its company's users: ${listed} vs ${mine.items.map((u) => u.email)}`);
    assert(listed.includes(email) && listed.includes(opEmail), 'itself and the new operator are listed');
    assert(!listed.includes(strangerEmail) && !listed.includes(ctx.admin.email), 'no user of another company, no ADMIN');
    await up.getByRole('link', { name: 'Companies' }).click();
    // (The users page links the company too: wait for the companies page itself.)
    await up.getByRole('heading', { name: 'Companies', level: 1 }).waitFor();
    await up.getByRole('region', { name: 'Companies', exact: true }).getByRole('link', { name: newName }).waitFor();
    const coLinks = await up.getByRole('region', { name: 'Companies', exact: true }).locator('tbody tr').count();
    assert(coLinks === 1, `a CLIENT ADMIN sees only its own company: ${coLinks}`);

    // --- ending the sessions logs the signed-in page out
    await ap.getByRole('heading', { name: email, level: 1 }).waitFor();
    await ap.getByRole('button', { name: 'End all sessions' }).click();
    await ap.getByText(`Every session of ${email} has ended.`).waitFor();
    await up.getByRole('link', { name: 'Blacklist' }).click();
    await up.getByRole('heading', { name: 'Log in' }).waitFor();
    await up.getByText('Your session has ended').waitFor();
    assert(await up.locator('#logout').count() === 0, 'the revoked page is logged out');

    // --- password reset: the old password fails, the new one works
    assert(await loginStatus(ctx, email, PW1) === 200, 'the old password works before the reset');
    await ap.getByLabel('New password').fill(PW2);
    await ap.getByRole('button', { name: 'Reset password' }).click();
    await ap.getByText(`Password of ${email} reset`).waitFor();
    assert(await loginStatus(ctx, email, PW1) === 401, 'the old password fails after the reset');
    assert(await loginStatus(ctx, email, PW2) === 200, 'the new password works');

    // --- role change and deletion of the operator the CLIENT ADMIN made
    const opUser = (await must(admin, 'GET', `/api/users/?search_text=${encodeURIComponent(opEmail)}`)).items[0];
    await ap.goto(`/console/#/users/${opUser.user_id}`);
    await ap.getByRole('heading', { name: opEmail, level: 1 }).waitFor();
    await ap.getByLabel('Role', { exact: true }).selectOption('CLIENT');
    await ap.getByRole('button', { name: 'Save role' }).click();
    await ap.getByText('Role saved.').waitFor();
    const changed = await must(admin, 'GET', `/api/users/${opUser.user_id}/`);
    assert(changed.user_type === 'CLIENT' && changed.company_id === company.company_id, `role changed: ${changed.user_type}`);
    await ap.getByRole('button', { name: 'Delete user' }).click();
    await ap.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    const del = await api(admin, 'GET', `/api/users/${opUser.user_id}/`);
    assert(del.status === 404, `the deleted user answers 404: ${del.status}`);

    // --- screenshots, desktop and phone
    await ap.goto('/console/#/companies');
    await ap.getByRole('link', { name: newName }).waitFor();
    await calm(ap);
    await ctx.shot(ap, 'companies');
    await ap.goto(`/console/#/users?company_id=${company.company_id}`);
    await ap.getByRole('link', { name: email }).waitFor();
    await calm(ap);
    await ctx.shot(ap, 'users');
    await ap.goto(`/console/#/users/${user.user_id}`);
    await ap.getByRole('heading', { name: email, level: 1 }).waitFor();
    await calm(ap);
    await ctx.shot(ap, 'user');
    const pp = await ctx.open('phone');
    await ctx.login(pp, ctx.admin.email, ctx.admin.password);
    for (const [hash, name, ready] of [
      ['#/companies', 'companies', () => pp.getByRole('link', { name: newName })],
      [`#/companies/${company.company_id}`, 'company', () => pp.getByRole('heading', { name: newName, level: 1 })],
      [`#/users?company_id=${company.company_id}`, 'users', () => pp.getByRole('link', { name: email })],
      [`#/users/${user.user_id}`, 'user', () => pp.getByRole('heading', { name: email, level: 1 })],
    ]) {
      await pp.goto(`/console/${hash}`);
      await ready().waitFor();
      await ctx.noSideScroll(pp);
      await calm(pp);
      await ctx.shot(pp, name);
    }

    // --- a company with folders: deleted only after the second confirmation (force)
    const doomed = await must(admin, 'POST', '/api/companies/', { json: { name: ctx.unique('doomed') } });
    const dEmail = `${ctx.unique('doomed-user')}@console.test`;
    await must(admin, 'POST', '/api/users/', { json: { email: dEmail, password: PW1, user_type: 'CLIENT', company_id: doomed.company_id } });
    const dTok = await ctx.token(dEmail, PW1);
    const folder = await must(dTok, 'POST', '/api/folders/', { form: ctx.form([{ key: 'photo', file: 'faces/live/obama__portrait.jpg', type: 'image/jpeg' }]) });
    dialogs.length = 0;
    await ap.goto(`/console/#/companies/${doomed.company_id}`);
    await ap.getByRole('button', { name: 'Delete company' }).click();
    await ap.getByRole('heading', { name: 'Companies', exact: true }).waitFor();
    assert(dialogs.length === 2 && dialogs[1].includes('has folders'), `two confirmations: ${JSON.stringify(dialogs)}`);
    assert((await api(admin, 'GET', `/api/companies/${doomed.company_id}/`)).status === 404, 'the company is gone');
    assert((await api(admin, 'GET', `/api/folders/${folder.folder_id}/`)).status === 404, 'its folder is gone');
  },
};
