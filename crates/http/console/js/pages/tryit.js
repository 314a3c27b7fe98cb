// Try it (#/try): what an app does, from the browser. Upload a selfie video and an ID photo as a
// new folder (POST /api/folders/), start QUALITY (liveness) and BIOMETRY (face match) on it
// (POST /api/folders/{id}/analyses/), follow them every second (GET /api/folders/{id}/
// ?with_analyses=true) and show the verdicts, the scores against their thresholds and the best shot.

import { api, can, checkFiles, fileUrl, sizeText, upload } from '../api.js';
import { h, mount, title, field, section, badge, num, errorBox, shortId } from '../ui.js';

const POLL_MS = 1000;
const GIVE_UP_MS = 15 * 60 * 1000;
const VIDEO_TAGS = ['video_selfie', 'video_selfie_blank'];
const PHOTO_TAGS = ['photo_id', 'photo_id_front'];

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** One key/value row of folder metadata. */
let rows = 0;
function metaRow(list) {
  rows += 1;
  const n = list.children.length + 1;
  const key = h('input', { type: 'text', name: `meta_key_${rows}`, autocomplete: 'off', maxlength: '200' });
  const value = h('input', { type: 'text', name: `meta_value_${rows}`, autocomplete: 'off', maxlength: '2000' });
  const row = h('div', { class: 'tryit-meta-row' },
    field(`Metadata key ${n}`, key),
    field(`Metadata value ${n}`, value));
  row.pair = () => [key.value.trim(), value.value];
  list.appendChild(row);
  return key;
}

/** The line of one analysis in the progress list. */
function stateLine(a) {
  const state = a.state === 'FINISHED' ? a.resolution_status : a.state;
  return `${a.type}: ${state}`;
}

function qualityResult(a) {
  const threshold = a.confs ? a.confs.threshold_spoofing : undefined;
  const items = (a.results_media || []).map((rm) => {
    const score = rm.results_data ? rm.results_data.confidence_spoofing : undefined;
    const shots = (rm.output_images || []).map((img) => fileUrl(img.original_url)).filter(Boolean);
    const over = score !== undefined && score !== null && threshold !== undefined && Number(score) > Number(threshold);
    return h('div', { class: 'tryit-media' },
      h('p', { class: 'score' },
        'Spoofing score ', h('strong', { class: 'tryit-spoofing' }, num(score, 6)),
        ` against the threshold ${num(threshold, 2)}: `,
        score === undefined || score === null ? 'no score' : (over ? 'above it (an attack is suspected)' : 'at or below it (looks live)')),
      score !== undefined && score !== null && threshold !== undefined
        ? h('meter', { class: 'tryit-meter', min: '0', max: '1', value: String(score), high: String(threshold), optimum: '0', 'aria-label': 'Spoofing score from 0 to 1' })
        : null,
      shots.map((src) => h('figure', { class: 'tryit-shot' },
        h('img', { src, alt: 'Best shot: the frame of the video the analysis chose' }),
        h('figcaption', { class: 'muted' }, 'Best shot'))));
  });
  return items;
}

function biometryResult(a) {
  const r = a.results_data || {};
  const c = a.confs || {};
  return h('p', { class: 'score' },
    'Similarity score ', h('strong', { class: 'tryit-biometry' }, num(r.min_confidence, 6)),
    ' (the least similar pair)', c.threshold_approve !== undefined ? `; SUCCESS at ${num(c.threshold_approve, 2)} or more` : '',
    c.threshold_decline !== undefined ? `, DECLINED below ${num(c.threshold_decline, 2)}` : '',
    c.threshold_decline !== undefined && Number(c.threshold_decline) < Number(c.threshold_approve) ? '; in between an operator decides' : '', '.');
}

function results(folder) {
  const list = folder.analyses || [];
  return list.map((a) => h('section', { class: 'card tryit-result', 'aria-labelledby': `res-${a.analysis_id}` },
    h('h3', { id: `res-${a.analysis_id}` }, a.type === 'QUALITY' ? 'Liveness (QUALITY)' : a.type === 'BIOMETRY' ? 'Face match (BIOMETRY)' : a.type),
    h('p', {}, 'Verdict: ', badge(a.state === 'FAILED' ? 'FAILED' : a.resolution_status), ' ', shortId(a.analysis_id)),
    a.state === 'FAILED' ? h('p', { class: 'alert' }, a.error_message || 'The analysis failed.') : null,
    a.state === 'FINISHED' && a.type === 'QUALITY' ? qualityResult(a) : null,
    a.state === 'FINISHED' && a.type === 'BIOMETRY' ? biometryResult(a) : null));
}

export async function render(main, route) {
  if (!can('upload')) {
    mount(main, title('Try it'), h('p', {}, 'Your role cannot upload folders.'));
    return;
  }
  const video = h('input', { type: 'file', name: 'video', accept: 'video/*', required: true });
  const photo = h('input', { type: 'file', name: 'photo', accept: 'image/jpeg,image/png', required: true });
  const metaList = h('div', { class: 'tryit-meta' });
  metaRow(metaList);
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Upload and analyse');
  let uploading = null; // the AbortController of the upload in flight
  const cancel = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => uploading && uploading.abort() }, 'Cancel upload');
  const sent = h('progress', { class: 'tryit-upload', max: '100', value: '0', 'aria-label': 'Upload progress', hidden: true });
  const errors = h('div');
  const progress = h('ol', { class: 'tryit-steps' });
  // The live region: each step and each change of an analysis' state is read out.
  const live = h('div', { class: 'tryit-live', role: 'status', 'aria-live': 'polite' }, progress);
  const out = h('div', { class: 'tryit-out' });

  const step = (text) => {
    const li = h('li', {}, text);
    progress.appendChild(li);
    return li;
  };

  async function run() {
    mount(errors);
    mount(progress);
    mount(out);
    const meta = {};
    for (const row of metaList.children) {
      const [k, v] = row.pair();
      if (k) meta[k] = v;
    }
    const form = new FormData();
    form.append('video', video.files[0]);
    form.append('photo', photo.files[0]);
    form.append('payload', JSON.stringify({
      'media:tags': { video: VIDEO_TAGS, photo: PHOTO_TAGS },
      'folder:meta_data': meta,
    }));
    const line = step('Uploading the video and the photo…');
    uploading = new AbortController();
    cancel.hidden = false;
    sent.hidden = false;
    sent.value = 0;
    let folder;
    try {
      folder = await upload('/api/folders/', form, {
        signal: uploading.signal,
        onProgress: ({ loaded, total }) => {
          const percent = Math.floor((loaded / total) * 100);
          sent.value = percent;
          line.textContent = `Uploading: ${sizeText(loaded)} of ${sizeText(total)} (${percent} %)`;
        },
      });
    } finally {
      uploading = null;
      cancel.hidden = true;
      sent.hidden = true;
    }
    line.textContent = 'Uploaded the video and the photo.';
    const fid = folder.folder_id;
    step(`Folder ${fid} created.`);
    step('Starting QUALITY and BIOMETRY…');
    await api(`/api/folders/${encodeURIComponent(fid)}/analyses/`, {
      json: { analyses: [{ type: 'quality' }, { type: 'biometry' }] },
    });
    const states = h('ul', { class: 'tryit-states' });
    progress.appendChild(h('li', {}, 'Analyses: ', states));
    const until = Date.now() + GIVE_UP_MS;
    let last = '';
    for (;;) {
      if (!route.isCurrent()) return;
      const f = await api(`/api/folders/${encodeURIComponent(fid)}/`, { query: { with_analyses: 'true' } });
      if (!route.isCurrent()) return;
      const list = f.analyses || [];
      const text = list.map(stateLine).join('; ');
      if (text !== last) {
        last = text;
        mount(states, list.map((a) => h('li', { class: 'tryit-state' }, `${a.type}: `, badge(a.state === 'FINISHED' ? a.resolution_status : a.state))));
      }
      if (list.length && list.every((a) => a.state !== 'PROCESSING')) {
        step('Finished.');
        mount(out,
          h('h2', {}, 'Results'),
          h('p', {}, 'Folder ', shortId(fid), ': ', badge(f.system_resolution), ' ',
            h('a', { href: `#/folders/${encodeURIComponent(fid)}` }, 'Open the folder')),
          results(f));
        return;
      }
      if (Date.now() > until) {
        step('Still processing after 15 minutes; the folder page shows the results when they come.');
        mount(out, h('a', { href: `#/folders/${encodeURIComponent(fid)}` }, 'Open the folder'));
        return;
      }
      await sleep(POLL_MS);
    }
  }

  const form = h('form', {
    class: 'card tryit-form',
    'aria-label': 'Upload a selfie video and an ID photo',
    onsubmit: async (ev) => {
      ev.preventDefault();
      if (!video.files.length || !photo.files.length) {
        mount(errors, errorBox(new Error('Choose a selfie video and an ID photo.')));
        return;
      }
      // Checked against the limits the server publishes, before anything is sent.
      const wrong = await checkFiles([{ label: 'The video', file: video.files[0] }, { label: 'The photo', file: photo.files[0] }]);
      if (wrong) {
        mount(errors, errorBox(new Error(wrong)));
        return;
      }
      submit.disabled = true;
      try {
        await run();
      } catch (e) {
        if (e && e.status === 401) return;
        step(e && e.cancelled ? 'Cancelled: nothing was stored.' : 'Stopped.');
        mount(errors, errorBox(e));
      } finally {
        submit.disabled = false;
      }
    },
  },
  field('Selfie video', video, `A short video of a face. Tagged ${VIDEO_TAGS.join(', ')}: QUALITY checks it for liveness.`),
  field('ID photo', photo, `A JPEG or PNG of the document's face. Tagged ${PHOTO_TAGS.join(', ')}: BIOMETRY compares it with the video.`),
  h('fieldset', { class: 'tryit-fieldset' },
    h('legend', {}, 'Folder metadata (optional)'),
    metaList,
    h('button', { type: 'button', class: 'btn', onclick: () => metaRow(metaList).focus() }, 'Add metadata')),
  h('div', { class: 'actions' }, submit, cancel),
  sent,
  errors);

  mount(main,
    title('Try it'),
    h('p', {}, 'Check a selfie video and an ID photo as an app would: the files go into a new folder of yours, QUALITY (liveness) and BIOMETRY (face match) run on it, and the verdicts show here when they finish.'),
    form,
    section('Progress', live),
    out);
}
