// Operator work: the queue of OPERATOR_REQUIRED analyses (#/queue), one case with its evidence
// side by side and the decision form (#/queue/<analysis id>), and the audit trail of decisions
// (#/audit). Decisions go through POST /api/analyses/{id}/resolution, which checks the role.

import { api, can, fileUrl } from '../api.js';
import { h, title, table, pager, badge, timeEl, shortId, errorBox, section, num, field, busy, toast, kv, spoofingWords, similarityWords } from '../ui.js';
import { mediaView } from './folder.js';

export async function render(main, route) {
  if (route.name === 'audit') return renderAudit(main, route);
  if (route.parts[1]) return renderCase(main, route, route.parts[1]);
  return renderQueue(main, route);
}

function paging(route) {
  const limit = Math.min(100, Number(route.params.get('limit')) || 25);
  const offset = Math.max(0, Number(route.params.get('offset')) || 0);
  const go = (o) => {
    const next = new URLSearchParams(route.params);
    if (o) next.set('offset', String(o)); else next.delete('offset');
    route.go(`#/${route.name}?${next}`);
  };
  return { limit, offset, go };
}

function summary(a) {
  const d = a.results_data || {};
  if (a.type === 'BIOMETRY') return similarityWords(d.min_confidence, (a.confs || {}).threshold_approve);
  if (a.type === 'COLLECTION') return `best match ${num(d.max_confidence)}`;
  if (a.type === 'QUALITY') {
    const s = (a.results_media || []).map((r) => r.results_data && r.results_data.confidence_spoofing).filter((x) => x !== undefined && x !== null);
    return s.length ? spoofingWords(Math.max(...s), (a.confs || {}).threshold_spoofing) : '';
  }
  return '';
}

async function renderQueue(main, route) {
  const { limit, offset, go } = paging(route);
  main.append(title('Operator queue'),
    h('p', { class: 'muted' }, 'Analyses waiting for a person to decide (OPERATOR_REQUIRED), oldest first.'));
  const page = await api('/api/analyses/', { query: { state: 'OPERATOR_REQUIRED', sorting: 'time_created{asc}', limit, offset } });
  if (!route.isCurrent()) return;
  main.append(
    table([
      { label: 'Waiting since', cell: (a) => timeEl(a.time_created) },
      { label: 'Type', cell: (a) => a.type },
      { label: 'Scores', cell: (a) => summary(a) },
      { label: 'Folder', cell: (a) => h('a', { href: `#/folders/${encodeURIComponent(a.folder_id)}`, 'aria-label': `Folder ${a.folder_id}` }, shortId(a.folder_id)) },
      { label: 'Case', cell: (a) => h('a', { class: 'btn', href: `#/queue/${encodeURIComponent(a.analysis_id)}`, 'aria-label': `Open case ${a.analysis_id}` }, 'Open') },
    ], page.items, { caption: 'Cases waiting for a decision', empty: 'The queue is empty: no analysis waits for an operator.' }),
    pager({ total: page.total, offset, limit }, go));
}

/** The pictures an operator compares for one analysis. */
async function evidence(a) {
  const folder = await api(`/api/folders/${encodeURIComponent(a.folder_id)}/`);
  const all = folder.media || [];
  const shotOf = (id) => all.find((m) => m.media_type === 'IMAGE_RESULT_ANALYSIS_SINGLE' && m.media_association_id === id);
  const panels = [];
  for (const r of a.results_media || []) {
    const src = (a.source_media || []).find((m) => m.media_id === r.source_media_id) || all.find((m) => m.media_id === r.source_media_id);
    if (!src) continue;
    const shot = shotOf(src.media_id);
    const figures = [h('figure', {}, mediaView(src, { big: true }), h('figcaption', {}, `${src.original_name || src.media_type} (${(src.tags || []).join(', ') || 'no tags'})`))];
    if (shot && src.media_type !== 'IMAGE_FOLDER') {
      figures.push(h('figure', {}, h('img', { src: fileUrl(shot.original_url), alt: `Best shot of ${src.original_name || 'the video'}` }), h('figcaption', {}, 'Best shot')));
    }
    const d = r.results_data || {};
    const facts = [];
    if (d.confidence_spoofing !== undefined) facts.push(spoofingWords(d.confidence_spoofing, (a.confs || {}).threshold_spoofing));
    if (d.min_confidence !== undefined) facts.push(similarityWords(d.min_confidence, (a.confs || {}).threshold_approve));
    for (const p of r.collection_persons || []) facts.push(`blacklist person ${String(p.person_id).slice(0, 8)}: ${num(p.confidence)}`);
    panels.push(h('div', { class: 'evidence' }, figures, h('p', { class: 'score' }, facts.join('; '))));
    for (const p of r.collection_persons || []) {
      const img = h('img', { alt: `Blacklist photo of person ${String(p.person_id).slice(0, 8)}` });
      api(`/api/collections/${encodeURIComponent(p.collection_id)}/persons/${encodeURIComponent(p.person_id)}/images/${encodeURIComponent(p.image_id)}/`)
        .then((ph) => { img.src = fileUrl(ph.original_url); }).catch(() => img.replaceWith(h('span', { class: 'muted' }, '(photo removed)')));
      panels.push(h('div', { class: 'evidence' }, h('figure', {}, img, h('figcaption', {}, `Blacklist person ${String(p.person_id).slice(0, 8)}`))));
    }
  }
  return { folder, panels };
}

async function renderCase(main, route, id) {
  let a;
  try {
    a = await api(`/api/analyses/${encodeURIComponent(id)}/`);
  } catch (e) {
    main.append(title('Case'), errorBox(e));
    return;
  }
  const { folder, panels } = await evidence(a);
  if (!route.isCurrent()) return;
  main.append(
    h('p', {}, h('a', { href: '#/queue' }, '← Operator queue')),
    title(`${a.type} case ${a.analysis_id.slice(0, 8)}`, badge(a.resolution_status)),
    section('Evidence', h('div', { class: 'cols' }, panels.length ? panels : h('p', { class: 'muted' }, 'No media result.')),
      h('p', {}, 'Folder ', h('a', { href: `#/folders/${encodeURIComponent(a.folder_id)}` }, shortId(a.folder_id)), ' · created ', timeEl(folder.time_created))),
    section('Folder metadata', kv(folder.meta_data, 'No metadata.')));

  const trail = section('Decisions on this case', h('p', { class: 'muted' }, 'Loading…'));
  const showTrail = async () => {
    try {
      const t = await api(`/api/analyses/${encodeURIComponent(a.analysis_id)}/resolution/`);
      const items = Array.isArray(t) ? t : (t.items || []);
      trail.replaceChildren(trail.firstChild, auditTable(items));
    } catch (e) {
      trail.replaceChildren(trail.firstChild, e.status === 403 ? h('p', { class: 'muted' }, 'Your role cannot read the audit trail.') : errorBox(e));
    }
  };

  if (can('decide') && a.state === 'FINISHED') {
    const msg = h('div');
    const radios = ['SUCCESS', 'DECLINED'].map((v) => {
      const input = h('input', { type: 'radio', name: 'verdict', value: v, id: `verdict-${v}`, required: true });
      return h('div', { class: 'radio' }, input, h('label', { for: input.id }, v === 'SUCCESS' ? 'Approve (SUCCESS)' : 'Decline (DECLINED)'));
    });
    const comment = h('textarea', { name: 'comment', maxlength: '4000', rows: '3' });
    const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Save decision');
    // An operator's decision is replaced only with a comment saying why (the API refuses it
    // without one) and after a second press that confirms it; every decision stays in the trail.
    let current = a.resolution_operator ? a.resolution_status : null;
    let confirming = false;
    const unconfirm = () => {
      confirming = false;
      submit.textContent = 'Save decision';
    };
    comment.addEventListener('input', unconfirm);
    const form = h('form', {
      class: 'decide',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const verdict = form.querySelector('input[name=verdict]:checked');
        if (!verdict) {
          msg.replaceChildren(errorBox({ message: 'Choose approve or decline.' }));
          return;
        }
        if (current && !comment.value.trim()) {
          msg.replaceChildren(errorBox({ message: `An operator already decided ${current}. To replace that decision, say why in the comment.` }));
          comment.focus();
          return;
        }
        if (current && !confirming) {
          confirming = true;
          submit.textContent = 'Replace decision';
          msg.replaceChildren(h('div', { class: 'alert warn', role: 'alert' },
            `This replaces the decision ${current} already saved (it stays in the trail below). Press "Replace decision" to confirm.`));
          return;
        }
        await busy(submit, async () => {
          const updated = await api(`/api/analyses/${encodeURIComponent(a.analysis_id)}/resolution/`, { json: { resolution_status: verdict.value, comment: comment.value } });
          toast(`Decision saved: ${updated.resolution_status}`);
          msg.replaceChildren(h('div', { class: 'alert info', role: 'status' }, `Saved: ${updated.resolution_status}.`));
          // The next case waiting (the oldest other OPERATOR_REQUIRED analysis), one click away.
          api('/api/analyses/', { query: { state: 'OPERATOR_REQUIRED', sorting: 'time_created{asc}', limit: 2, total_omit: 'true' } })
            .then((q) => {
              const next = (q.items || []).find((x) => x.analysis_id !== a.analysis_id);
              msg.append(next
                ? h('p', {}, h('a', { class: 'btn primary', href: `#/queue/${encodeURIComponent(next.analysis_id)}` }, 'Next case'))
                : h('p', { class: 'muted' }, 'No other case is waiting.'));
            })
            .catch(() => {});
          const badgeNow = main.querySelector('.page-head .badge');
          if (badgeNow) badgeNow.replaceWith(badge(updated.resolution_status));
          current = updated.resolution_status;
          comment.value = '';
          unconfirm();
          await showTrail();
        }, msg);
      },
    },
    h('fieldset', {}, h('legend', {}, 'Decision'), radios),
    field('Comment', comment, 'Kept in the audit trail and sent with the folder\'s webhook.'),
    msg, submit);
    main.append(section('Decide', form));
  } else if (!can('decide')) {
    main.append(section('Decide', h('p', { class: 'muted' }, 'Only OPERATOR and CLIENT OPERATOR users decide cases.')));
  }
  main.append(trail);
  await showTrail();
}

function auditTable(items) {
  return table([
    { label: 'When', cell: (d) => timeEl(d.time_created) },
    { label: 'Operator', cell: (d) => d.user_email || shortId(d.user_id) },
    { label: 'Before', cell: (d) => badge(d.resolution_status_before) },
    { label: 'After', cell: (d) => badge(d.resolution_status) },
    { label: 'Comment', cell: (d) => d.comment || '—' },
    { label: 'Case', cell: (d) => h('a', { href: `#/queue/${encodeURIComponent(d.analysis_id)}`, 'aria-label': `Case ${d.analysis_id}` }, shortId(d.analysis_id)) },
    { label: 'Folder', cell: (d) => h('a', { href: `#/folders/${encodeURIComponent(d.folder_id)}`, 'aria-label': `Folder ${d.folder_id}` }, shortId(d.folder_id)) },
  ], items, { caption: 'Operator decisions', empty: 'No decision yet.' });
}

async function renderAudit(main, route) {
  const { limit, offset, go } = paging(route);
  main.append(title('Decisions'), h('p', { class: 'muted' }, 'Every operator decision, newest first. Rows are never changed by later decisions.'));
  const page = await api('/api/resolutions/', { query: { limit, offset } });
  if (!route.isCurrent()) return;
  main.append(auditTable(page.items), pager({ total: page.total, offset, limit }, go));
}

