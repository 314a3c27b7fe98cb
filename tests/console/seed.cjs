// Seeding through the API for the console specs: a company, users of each role, folders.

/** A new company (by the platform ADMIN). */
async function company(ctx, prefix = 'co') {
  const c = await ctx.must(ctx.admin.token, 'POST', '/api/companies/', { json: { name: ctx.unique(prefix) } });
  return c;
}

/** A new user of `user_type` in `company_id`; answers {email, password, user_id, token}. */
async function user(ctx, user_type, company_id, extra = {}) {
  const email = `${ctx.unique(user_type.toLowerCase())}@console.test`;
  const password = `pw-${ctx.unique('x')}`;
  const u = await ctx.must(ctx.admin.token, 'POST', '/api/users/', {
    json: { email, password, user_type, company_id, first_name: 'Test', last_name: user_type, ...extra },
  });
  const token = await ctx.token(email, password);
  return { email, password, user_id: u.user_id, token };
}

/** A folder uploaded by `token`: files [{key, file, tags}], optional folder meta, analyses, webhook. */
async function folder(ctx, token, files, { meta, analyses, resolution_endpoint } = {}) {
  const payload = { 'media:tags': {} };
  for (const f of files) payload['media:tags'][f.key] = f.tags || [];
  if (meta) payload['folder:meta_data'] = meta;
  if (analyses) payload.analyses = analyses;
  if (resolution_endpoint) payload.resolution_endpoint = resolution_endpoint;
  return ctx.must(token, 'POST', '/api/folders/', { form: ctx.form(files, payload) });
}

const SELFIE = { key: 'selfie', file: 'videos/portrait_720x1280.mp4', type: 'video/mp4', tags: ['video_selfie_blink'] };
const ID_BIDEN = { key: 'id', file: 'faces/live/biden__full.jpg', type: 'image/jpeg', tags: ['photo_id_front'] };
const PHOTO_OBAMA = { key: 'photo', file: 'faces/live/obama__portrait.jpg', type: 'image/jpeg', tags: [] };

module.exports = { company, user, folder, SELFIE, ID_BIDEN, PHOTO_OBAMA };
