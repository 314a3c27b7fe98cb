// One folder (#/folders/<id>): its media (image preview, video player, shot sets as a strip),
// tags and metadata, every analysis with its numbers, best shots, and the webhook deliveries.

import { api, can, fileUrl } from '../api.js';
import { personName } from './blacklist.js';
import { h, mount, title, table, badge, timeEl, shortId, errorBox, kv, section, num, busy, toast, pct } from '../ui.js';

const BEST_SHOT = 'IMAGE_RESULT_ANALYSIS_SINGLE';

export async function renderFolder(main, route, id) {
  let folder;
  try {
    folder = await api(`/api/folders/${encodeURIComponent(id)}/`, { query: { with_analyses: 'true', with_user: 'true', with_company: 'true' } });
  } catch (e) {
    main.append(title('Folder'), errorBox(e), h('p', {}, h('a', { href: '#/folders' }, 'Back to folders')));
    return;
  }
  if (!route.isCurrent()) return;
  const media = folder.media || [];
  const byId = new Map(media.map((m) => [m.media_id, m]));
  const analyses = (folder.analyses || []).slice().sort((a, b) => a.time_created - b.time_created);

  const del = can('delete_folders')
    ? h('button', { type: 'button', class: 'btn danger', onclick: (ev) => deleteFolder(ev.currentTarget, folder.folder_id, route) }, 'Delete folder')
    : null;
  main.append(
    h('p', {}, h('a', { href: '#/folders' }, '← Folders')),
    title(`Folder ${folder.folder_id.slice(0, 8)}`, h('div', { class: 'actions' }, badge(folder.resolution_status), badge(folder.system_resolution), del)),
    section('Summary', h('dl', { class: 'kv' },
      h('dt', {}, 'Folder id'), h('dd', {}, h('code', {}, folder.folder_id)),
      h('dt', {}, 'Created'), h('dd', {}, timeEl(folder.time_created)),
      h('dt', {}, 'Updated'), h('dd', {}, timeEl(folder.time_updated)),
      h('dt', {}, 'Status'), h('dd', {}, badge(folder.resolution_status)),
      h('dt', {}, 'Result'), h('dd', {}, badge(folder.system_resolution)),
      h('dt', {}, 'Operator decision'), h('dd', {}, badge(folder.operator_status), folder.operator_comment ? ` “${folder.operator_comment}”` : ''),
      h('dt', {}, 'Created by'), h('dd', {}, folder.user ? folder.user.email : '—'),
      h('dt', {}, 'Company'), h('dd', {}, folder.company ? folder.company.name : '—'),
      h('dt', {}, 'Webhook URL'), h('dd', {}, folder.resolution_endpoint || '—'))),
    section('Metadata', kv(folder.meta_data, 'No metadata.')),
    section('Media', h('div', { class: 'grid' }, media.filter((m) => m.media_type !== BEST_SHOT).map((m) => mediaCard(m)))),
    section('Analyses', analyses.length
      ? analyses.map((a) => analysisCard(a, byId))
      : h('p', { class: 'muted' }, 'No analysis has been started on this folder.')),
    section('Best shots', bestShots(media, byId)),
  );
  const hooks = section('Webhook deliveries', h('p', { class: 'muted' }, 'Loading…'));
  main.append(hooks);
  try {
    const d = await api(`/api/folders/${encodeURIComponent(folder.folder_id)}/webhooks/`);
    hooks.replaceChildren(hooks.firstChild, table([
      { label: 'Queued', cell: (x) => timeEl(x.time_created) },
      { label: 'URL', cell: (x) => x.url },
      { label: 'Outcome', cell: (x) => badge(x.state) },
      { label: 'Attempts', class: 'num', cell: (x) => String(x.attempts) },
      { label: 'Last HTTP status', class: 'num', cell: (x) => (x.last_status ?? '—') },
      { label: 'Last error', cell: (x) => x.last_error || '—' },
      { label: 'Delivered', cell: (x) => timeEl(x.delivered_at) },
    ], d.items, { caption: 'Webhook deliveries', empty: folder.resolution_endpoint ? 'No delivery yet (queued when the analyses finish).' : 'This folder has no webhook URL.' }));
  } catch (e) {
    hooks.replaceChildren(hooks.firstChild, errorBox(e));
  }
}

async function deleteFolder(button, id, route) {
  if (!window.confirm('Delete this folder with its media and analyses? This cannot be undone.')) return;
  await busy(button, async () => {
    await api(`/api/folders/${encodeURIComponent(id)}/`, { method: 'DELETE' });
    toast('Folder deleted');
    route.go('#/folders');
  });
}

/** The picture or player of a media. */
export function mediaView(m, { big = false } = {}) {
  const label = `${m.original_name || m.media_type} (${m.media_type})`;
  if (m.media_type === 'VIDEO_FOLDER') {
    return h('video', { controls: true, preload: 'metadata', playsinline: true, muted: true, src: fileUrl(m.video_url || m.original_url), poster: fileUrl(m.preview_url), 'aria-label': label });
  }
  if (m.media_type === 'SHOTS_SET_FOLDER') return shotStrip(m);
  const src = big ? fileUrl(m.original_url) : (fileUrl(m.preview_url) || fileUrl(m.original_url));
  return h('a', { href: fileUrl(m.original_url), target: '_blank', rel: 'noopener' }, h('img', { src, alt: label, loading: 'lazy' }));
}

function mediaCard(m) {
  const info = (m.info && (m.info.video || m.info.original)) || {};
  return h('article', { class: 'media', 'aria-label': m.original_name || m.media_id },
    mediaView(m),
    h('h3', {}, m.original_name || m.media_type),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Type'), h('dd', {}, m.media_type),
      h('dt', {}, 'Media id'), h('dd', {}, shortId(m.media_id)),
      info.width ? [h('dt', {}, 'Size'), h('dd', {}, `${info.width}×${info.height}${info.duration ? `, ${num(info.duration, 1)} s` : ''}`)] : null,
      h('dt', {}, 'Tags'), h('dd', {}, (m.tags || []).length ? h('span', { class: 'tags' }, m.tags.map((t) => h('span', { class: 'tag' }, t))) : '—')),
    Object.keys(m.meta_data || {}).length ? [h('h3', {}, 'Metadata'), kv(m.meta_data)] : null);
}

/**
 * A shot set as a strip of its shots: the frames of the mp4 the server assembled from the shots
 * (one shot per frame, 5 fps), drawn one by one into small canvases.
 */
function shotStrip(m) {
  const strip = h('div', { class: 'strip', role: 'group', 'aria-label': `Shots of ${m.original_name || 'the shot set'}` });
  const src = fileUrl(m.video_url);
  if (!src) {
    strip.append(h('img', { src: fileUrl(m.preview_url), alt: 'First shot' }));
    return strip;
  }
  const v = document.createElement('video');
  v.muted = true;
  v.preload = 'auto';
  v.src = src;
  v.addEventListener('loadeddata', async () => {
    const n = Math.min(64, Math.max(1, Math.round((v.duration || 0) * 5)));
    for (let i = 0; i < n; i += 1) {
      await new Promise((resolve) => {
        v.addEventListener('seeked', resolve, { once: true });
        v.currentTime = Math.min(v.duration, (i + 0.5) / 5);
      });
      const c = document.createElement('canvas');
      c.height = 160;
      c.width = Math.max(1, Math.round((v.videoWidth / Math.max(1, v.videoHeight)) * 160));
      c.setAttribute('role', 'img');
      c.setAttribute('aria-label', `Shot ${i + 1} of ${n}`);
      c.getContext('2d').drawImage(v, 0, 0, c.width, c.height);
      strip.append(c);
    }
  }, { once: true });
  return strip;
}

function mediaName(byId, id) {
  const m = byId.get(id);
  return m ? (m.original_name || m.media_type) : (id ? id.slice(0, 8) : '—');
}

function analysisCard(a, byId) {
  const body = [];
  body.push(h('dl', { class: 'kv' },
    h('dt', {}, 'Analysis id'), h('dd', {}, h('code', {}, a.analysis_id)),
    h('dt', {}, 'State'), h('dd', {}, badge(a.state)),
    h('dt', {}, 'Verdict'), h('dd', {}, badge(a.resolution_status)),
    h('dt', {}, 'Started'), h('dd', {}, timeEl(a.time_created)),
    h('dt', {}, 'Updated'), h('dd', {}, timeEl(a.time_updated)),
    a.error_message ? [h('dt', {}, 'Error'), h('dd', {}, `${a.error_message} (error ${a.error_code})`)] : null,
    a.resolution_operator ? [h('dt', {}, 'Decided by operator'), h('dd', {}, shortId(a.resolution_operator), a.operator_comment ? ` “${a.operator_comment}”` : '', ' ', timeEl(a.resolution_time))] : null));
  const rm = a.results_media || [];
  const confs = a.confs || {};
  if (a.type === 'QUALITY') {
    const threshold = confs.threshold_spoofing;
    body.push(table([
      { label: 'Media', cell: (r) => mediaName(byId, r.source_media_id) },
      { label: 'Spoofing chance', class: 'num', cell: (r) => scoreCell(r.results_data && r.results_data.confidence_spoofing, pct) },
      { label: 'Declined above', class: 'num', cell: () => pct(threshold) },
      { label: 'Media verdict', cell: (r) => {
        const s = r.results_data && r.results_data.confidence_spoofing;
        if (s === undefined || s === null) return '—';
        return badge(s > threshold ? 'DECLINED' : 'SUCCESS');
      } },
    ], rm, { caption: 'Liveness per media', empty: 'No result yet.' }));
  } else if (a.type === 'BIOMETRY') {
    const d = a.results_data || {};
    body.push(h('p', {}, 'Least similar pair ', h('strong', { class: 'score' }, num(d.min_confidence)),
      ', most similar ', h('strong', { class: 'score' }, num(d.max_confidence)),
      ` (similarity from 0 to 1: the same person at ${num(confs.threshold_approve, 2)} or more${confs.threshold_decline !== undefined ? `, declined below ${num(confs.threshold_decline, 2)}` : ''}).`));
    body.push(table([
      { label: 'Media', cell: (r) => mediaName(byId, r.source_media_id) },
      { label: 'Min similarity', class: 'num', cell: (r) => scoreCell(r.results_data && r.results_data.min_confidence) },
      { label: 'Max similarity', class: 'num', cell: (r) => scoreCell(r.results_data && r.results_data.max_confidence) },
    ], rm, { caption: 'Biometry per media', empty: 'No result yet.' }));
  } else if (a.type === 'COLLECTION') {
    const rows = [];
    for (const r of rm) for (const p of r.collection_persons || []) rows.push({ r, p });
    body.push(h('p', {}, `Threshold ${num(confs.decision_threshold, 2)}; ${rows.length} match(es).`));
    body.push(table([
      { label: 'Media', cell: (x) => mediaName(byId, x.r.source_media_id) },
      { label: 'Matched person', cell: (x) => personCell(x.p) },
      { label: 'Similarity', class: 'num', cell: (x) => scoreCell(x.p.confidence) },
    ], rows, { caption: 'Blacklist matches', empty: 'No person of the blacklist matched.' }));
  }
  const decide = can('decide') && a.state === 'FINISHED'
    ? h('a', { class: 'btn', href: `#/queue/${encodeURIComponent(a.analysis_id)}` }, a.resolution_status === 'OPERATOR_REQUIRED' ? 'Review and decide' : 'Review')
    : null;
  return h('article', { class: 'card analysis', 'aria-label': `${a.type} analysis` },
    h('h3', {}, `${a.type} `, badge(a.resolution_status)), body, decide ? h('div', { class: 'actions' }, decide) : null);
}

/** A score in 0..1 with a bar; `text` writes the number (default: 3 decimals). */
function scoreCell(x, text = num) {
  if (x === undefined || x === null) return '—';
  const width = Math.max(0, Math.min(100, Number(x) * 100));
  const bar = h('span');
  bar.style.width = `${width}%`; // CSSOM, which the page's CSP allows (style attributes it does not)
  return h('span', { class: 'score' }, text(x), h('span', { class: 'meter', 'aria-hidden': 'true' }, bar));
}

/** A matched blacklist person: its photo (looked up) and id, linked to the collection. */
function personCell(p) {
  const img = h('img', { class: 'thumb', alt: `Photo of person ${String(p.person_id).slice(0, 8)}` });
  const link = h('a', { href: `#/collections/${encodeURIComponent(p.collection_id)}` }, shortId(p.person_id));
  const who = h('strong', { class: 'bl-flag' }, 'On the list');
  const cell = h('span', { class: 'person' }, img, ' ', who, ' ', link);
  // The person's name, from its metadata (person_info), when it has one.
  api(`/api/collections/${encodeURIComponent(p.collection_id)}/persons/${encodeURIComponent(p.person_id)}/`)
    .then((person) => {
      const name = personName(person);
      if (name) link.textContent = name;
    })
    .catch(() => {});
  api(`/api/collections/${encodeURIComponent(p.collection_id)}/persons/${encodeURIComponent(p.person_id)}/images/${encodeURIComponent(p.image_id)}/`)
    .then((photo) => { img.src = fileUrl(photo.original_url); })
    .catch(() => { img.replaceWith(h('span', { class: 'muted' }, '(photo removed)')); });
  return cell;
}

function bestShots(media, byId) {
  const shots = media.filter((m) => m.media_type === BEST_SHOT);
  if (!shots.length) return h('p', { class: 'muted' }, 'No best shot (QUALITY makes one per video when it finishes).');
  return h('div', { class: 'grid' }, shots.map((m) => h('figure', { class: 'media' },
    h('a', { href: fileUrl(m.original_url), target: '_blank', rel: 'noopener' },
      h('img', { src: fileUrl(m.original_url), alt: `Best shot of ${mediaName(byId, m.media_association_id)}`, class: 'best-shot' })),
    h('figcaption', {}, `From ${mediaName(byId, m.media_association_id)}`,
      m.technical_meta_data && m.technical_meta_data.quality !== undefined ? `, quality ${num(m.technical_meta_data.quality)}` : '',
      m.technical_meta_data && m.technical_meta_data.frame_index !== undefined ? `, frame ${m.technical_meta_data.frame_index}` : ''))));
}
