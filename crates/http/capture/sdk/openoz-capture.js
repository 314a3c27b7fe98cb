// openoz capture SDK: records a liveness clip against an openoz server with a server-issued
// challenge. A dependency-free ES module, served by the server at /sdk/openoz-capture.js.
//
//   import { start } from "https://openoz.example/sdk/openoz-capture.js";
//   const session = start({ element, apiUrl: "https://openoz.example", token, mode: "instant",
//                           onProgress: (p) => ..., onResult: (r) => ..., onError: (e) => ... });
//   session.cancel();   // stops the camera and gives up
//
// Steps: open the front camera -> guide the person until one face is in the oval (POST
// /api/liveness/precheck on a small frame about once a second) -> get a challenge (POST
// /api/liveness/challenges/) -> record one clip while prompting each action in turn -> upload it
// with the challenge (Instant API, or a folder with QUALITY + best shot, then poll) -> onResult.
// `token` is an SDK session token (GET /api/authorize/session_token, made by your back end) or an
// access token; "folder" mode works with either (a session token may upload only this capture and
// read back only the folders it uploaded).
// Telemetry (option `telemetry`, default true): the steps a capture went through (camera, precheck
// hints, challenge, recording, upload, verdict or error, with times) go to POST
// /api/event_sessions/ in a few requests, so operators can see where people get stuck (GET
// /api/event_sessions/). No image, token or personal data is sent; a failure there never stops
// the capture.
// Nothing is fetched from anywhere but `apiUrl`; no inline styles or code (works under a strict
// Content-Security-Policy: the stylesheet is /sdk/openoz-capture.css, loaded by <link> when
// `stylesheet` is not false).

const ACTION_MS = { blink: 1800, smile: 2200, turn_left: 2400, turn_right: 2400, look_up: 2400, look_down: 2400 };
const LEAD_MS = 1200;
const TAIL_MS = 900;
const PRECHECK_EVERY_MS = 900;
const READY_IN_A_ROW = 2;
const POLL_MS = 700;
const POLL_LIMIT_MS = 120000;
const SDK_NAME = "openoz-capture.js";
// Events one capture sends at most (the server takes 100 a request, 2000 a session).
const TELEMETRY_MAX_EVENTS = 80;
const TELEMETRY_WAIT_MS = 1500;

// Action icons: inline SVG built with the DOM (no emoji font needed, nothing for the CSP to
// block), drawn in the text colour. Arrows point the way the person moves on the mirrored preview.
const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  blink: [["path", { d: "M2 12C6 5.5 18 5.5 22 12C18 18.5 6 18.5 2 12Z" }], ["circle", { cx: 12, cy: 12, r: 3.2 }]],
  smile: [
    ["circle", { cx: 12, cy: 12, r: 10 }],
    ["path", { d: "M7.5 14.5C9.5 17.5 14.5 17.5 16.5 14.5" }],
    ["circle", { cx: 9, cy: 9.5, r: 0.9, fill: "currentColor" }],
    ["circle", { cx: 15, cy: 9.5, r: 0.9, fill: "currentColor" }],
  ],
  turn_left: [["path", { d: "M20 12H4M10 6L4 12L10 18" }]],
  turn_right: [["path", { d: "M4 12H20M14 6L20 12L14 18" }]],
  look_up: [["path", { d: "M12 20V4M6 10L12 4L18 10" }]],
  look_down: [["path", { d: "M12 4V20M6 14L12 20L18 14" }]],
};

/** The icon of an action as an SVG element, or null. */
function iconOf(action) {
  const shapes = ICONS[action];
  if (!shapes) return null;
  const svg = document.createElementNS(SVG_NS, "svg");
  const attrs = { viewBox: "0 0 24 24", fill: "none", stroke: "currentColor", "stroke-width": "2",
    "stroke-linecap": "round", "stroke-linejoin": "round", focusable: "false" };
  for (const [k, v] of Object.entries(attrs)) svg.setAttribute(k, v);
  for (const [tag, a] of shapes) {
    const n = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(a)) n.setAttribute(k, String(v));
    svg.appendChild(n);
  }
  return svg;
}

/** Plain-language texts; pass `texts` to start() to translate. */
export const TEXTS = {
  opening: "Opening the camera…",
  denied: "Camera access was denied. Allow the camera for this page in your browser settings, then try again.",
  noCamera: "No camera was found on this device.",
  cameraBusy: "The camera is in use by another application. Close it and try again.",
  insecure: "The camera needs a secure page (https).",
  position: "Put your face in the oval",
  holdStill: "Hold still and look at the camera",
  getting: "Preparing your check…",
  recording: "Recording",
  uploading: "Sending the video…",
  analysing: "Checking…",
  passed: "Done: you passed the check.",
  failed: "The check did not pass. Please try again in good light, following each prompt.",
  expired: "The check took too long and expired. Please try again.",
  network: "The server could not be reached. Check your connection and try again.",
  busy: "The server is busy. Please try again in a moment.",
  badToken: "This capture link is not valid or has expired. Ask for a new one.",
  noRecorder: "This browser cannot record video. Try an up-to-date Chrome, Firefox, Edge or Safari.",
  retry: "Try again",
  progress: "Progress of the check",
  cancelled: "Cancelled.",
};

/** An error with a stable `code` and a plain-language `message`. */
export class CaptureError extends Error {
  constructor(code, message, detail) {
    super(message);
    this.name = "CaptureError";
    this.code = code;
    this.detail = detail;
  }
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(t); reject(new CaptureError("cancelled", "Cancelled.")); }, { once: true });
  });
}

/** The recorder's container and codec: webm (VP8/VP9) where the browser records it, else mp4. */
export function pickMimeType() {
  if (typeof MediaRecorder === "undefined") return null;
  const prefs = ["video/webm;codecs=vp8", "video/webm;codecs=vp9", "video/webm", "video/mp4;codecs=avc1", "video/mp4"];
  for (const t of prefs) {
    try { if (MediaRecorder.isTypeSupported(t)) return t; } catch { /* older browsers */ }
  }
  return "";
}

function base(apiUrl) {
  const u = (apiUrl || "").replace(/\/+$/, "");
  return u || "";
}

/** An openoz API client for one token. */
class Api {
  constructor(apiUrl, token, texts) {
    this.base = base(apiUrl);
    this.token = token;
    this.texts = texts;
  }

  async call(method, path, body, headers = {}) {
    let res;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { "X-Forensic-Access-Token": this.token, ...headers },
        body,
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch (e) {
      throw new CaptureError("network", this.texts.network, String(e));
    }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) throw this.error(res, json);
    return json;
  }

  error(res, json) {
    const msg = json?.error_message || `HTTP ${res.status}`;
    if (res.status === 401) return new CaptureError("token", this.texts.badToken, msg);
    if (res.status === 429 || res.status === 503) {
      const e = new CaptureError("busy", this.texts.busy, msg);
      e.retryAfter = Number(res.headers.get("Retry-After")) || 1;
      return e;
    }
    if (res.status === 400 && /expired/i.test(msg)) return new CaptureError("expired", this.texts.expired, msg);
    return new CaptureError("server", msg, json);
  }

  /** POST a multipart form with upload progress (XMLHttpRequest: fetch has none). */
  upload(path, form, onProgress) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open("POST", this.base + path);
      x.setRequestHeader("X-Forensic-Access-Token", this.token);
      x.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      x.onerror = () => reject(new CaptureError("network", this.texts.network));
      x.onload = () => {
        let json = null;
        try { json = JSON.parse(x.responseText); } catch { json = null; }
        if (x.status >= 200 && x.status < 300) resolve(json);
        else reject(this.error({ status: x.status, headers: { get: (h) => x.getResponseHeader(h) } }, json));
      };
      x.send(form);
    });
  }
}

/**
 * The capture's telemetry session: events are buffered and sent when `flush` is called (after the
 * challenge, after the upload, at the end). Best effort: any failure switches it off.
 */
class Telemetry {
  constructor(api, meta, enabled) {
    this.api = api;
    this.meta = meta;
    this.off = !enabled;
    this.pending = [];
    this.count = 0;
    this.id = null;
    this.chain = Promise.resolve();
  }

  add(event, data = {}) {
    if (this.off || this.count >= TELEMETRY_MAX_EVENTS) return;
    this.count += 1;
    this.pending.push({ event, timemark: Date.now() / 1000, data });
  }

  flush() {
    this.chain = this.chain.then(async () => {
      if (this.off || this.pending.length === 0) return;
      const events = this.pending.splice(0, this.pending.length);
      const json = { "Content-Type": "application/json" };
      try {
        if (this.id === null) {
          const body = JSON.stringify({ meta_data: this.meta, events });
          this.id = (await this.api.call("POST", "/api/event_sessions/", body, json))?.session_id || null;
          if (this.id === null) this.off = true;
        } else {
          const body = JSON.stringify({ events });
          await this.api.call("POST", `/api/event_sessions/${encodeURIComponent(this.id)}/events/`, body, json);
        }
      } catch {
        this.off = true;
      }
    });
    return this.chain;
  }

  /** Sends what is left, waiting at most TELEMETRY_WAIT_MS: the verdict is not held up. */
  settle() {
    return Promise.race([this.flush(), new Promise((resolve) => { setTimeout(resolve, TELEMETRY_WAIT_MS); })]);
  }
}

/** The QUALITY analysis of an answer (Instant or folder). */
function qualityOf(folder) {
  return (folder?.analyses || []).find((a) => String(a.type).toUpperCase() === "QUALITY") || null;
}

/** What onResult gets, from the folder JSON. */
export function summarise(folder, mode) {
  const q = qualityOf(folder);
  const media = q?.results_media?.[0] || null;
  const shot = q?.results_data?.output_images?.[0] || media?.output_images?.[0] || null;
  return {
    mode,
    verdict: q?.resolution_status || folder?.resolution_status || null,
    passed: (q?.resolution_status || "") === "SUCCESS",
    folder_id: folder?.folder_id || null,
    analysis_id: q?.analysis_id || q?.analyse_id || null,
    confidence_spoofing: media?.results_data?.confidence_spoofing ?? null,
    challenge: media?.results_data?.challenge || null,
    best_shot: shot ? (shot.image_b64 ? `data:image/jpeg;base64,${shot.image_b64}` : shot.original_url || null) : null,
    folder,
  };
}

/**
 * Starts a capture in `element`. Options: apiUrl (default: this page's origin), token (required),
 * mode "instant" (default) or "folder", onProgress({step, message, fraction}), onResult(result),
 * onError(CaptureError), texts (overrides of TEXTS), precheck (default true), mirror (default
 * true: the preview is shown mirrored, the recording is not), stylesheet (default true),
 * telemetry (default true: the steps go to /api/event_sessions/; see the top of this file).
 * Returns {cancel(), done} where done is a Promise of the result.
 */
export function start(opts) {
  const o = { mode: "instant", precheck: true, mirror: true, stylesheet: true, telemetry: true, ...opts };
  const texts = { ...TEXTS, ...(o.texts || {}) };
  if (!o.element) throw new CaptureError("options", "start() needs an element");
  if (!o.token) throw new CaptureError("options", "start() needs a token");
  const apiUrl = o.apiUrl || window.location.origin;
  const api = new Api(apiUrl, o.token, texts);
  const abort = new AbortController();
  const ui = buildUi(o.element, texts, o.mirror, o.stylesheet ? base(apiUrl) + "/sdk/openoz-capture.css" : null);
  let stream = null;
  const telemetry = new Telemetry(api, { sdk: SDK_NAME, mode: o.mode, page: window.location.pathname }, o.telemetry);
  let lastStep = null;
  let lastHint = null;

  const progress = (step, message, fraction = null) => {
    // One event a step, and one a precheck hint when it changes.
    if (step !== lastStep) telemetry.add(`step:${step}`);
    const hint = step === "precheck" ? ui.root.dataset.hint || null : null;
    if (hint && hint !== lastHint) telemetry.add("precheck_hint", { hint });
    lastStep = step;
    lastHint = hint || lastHint;
    ui.say(message);
    if (fraction != null) ui.bar(fraction);
    ui.root.dataset.step = step;
    try { o.onProgress?.({ step, message, fraction }); } catch { /* the page's own error */ }
  };

  const stop = () => {
    stream?.getTracks().forEach((t) => t.stop());
    stream = null;
  };

  const done = (async () => {
    try {
      progress("camera", texts.opening);
      stream = await openCamera(texts);
      ui.video.srcObject = stream;
      await ui.video.play().catch(() => {});
      await waitForVideo(ui.video, abort.signal);
      if (o.precheck) await guide(api, ui, progress, texts, abort.signal);
      progress("challenge", texts.getting);
      const challenge = await api.call("POST", "/api/liveness/challenges/");
      telemetry.add("challenge_issued", { challenge_id: challenge.challenge_id, actions: challenge.actions });
      telemetry.flush();
      const clip = await record(stream, challenge, ui, progress, texts, abort.signal);
      telemetry.add("recorded", { bytes: clip.size, type: clip.type });
      stop();
      ui.video.srcObject = null;
      progress("upload", texts.uploading, 0);
      const folder = await send(api, o.mode, clip, challenge, (f) => progress("upload", texts.uploading, f), abort.signal);
      progress("analyse", texts.analysing, 1);
      const result = summarise(folder, o.mode);
      result.challenge_id = challenge.challenge_id;
      result.actions = challenge.actions;
      telemetry.add("result", { verdict: result.verdict, folder_id: result.folder_id, analysis_id: result.analysis_id });
      progress("result", result.passed ? texts.passed : texts.failed, 1);
      await telemetry.settle();
      ui.finish(result.passed, result.passed ? texts.passed : texts.failed);
      try { o.onResult?.(result); } catch { /* the page's own error */ }
      return result;
    } catch (e) {
      stop();
      const err = e instanceof CaptureError ? e : new CaptureError("internal", String(e?.message || e));
      telemetry.add("error", { code: err.code });
      ui.finish(false, err.message);
      progress("error", err.message);
      await telemetry.settle();
      try { o.onError?.(err); } catch { /* the page's own error */ }
      throw err;
    }
  })();
  done.catch(() => {});
  return {
    done,
    cancel() {
      abort.abort();
      stop();
    },
  };
}

function buildUi(element, texts, mirror, stylesheet) {
  if (stylesheet && !document.querySelector(`link[data-openoz-capture]`)) {
    const l = document.createElement("link");
    l.rel = "stylesheet";
    l.href = stylesheet;
    l.dataset.openozCapture = "";
    document.head.appendChild(l);
  }
  element.textContent = "";
  const root = el("div", "ozc");
  const stage = el("div", "ozc-stage");
  const video = el("video", mirror ? "ozc-video ozc-mirror" : "ozc-video");
  video.muted = true;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.setAttribute("aria-hidden", "true");
  // The shade fogs the picture outside the oval (a radial gradient the size of the oval).
  const shade = el("div", "ozc-shade");
  shade.setAttribute("aria-hidden", "true");
  const oval = el("div", "ozc-oval");
  const icon = el("div", "ozc-icon");
  icon.setAttribute("aria-hidden", "true");
  stage.append(video, shade, oval, icon);
  const prompt = el("p", "ozc-prompt", texts.opening);
  prompt.setAttribute("role", "status");
  prompt.setAttribute("aria-live", "assertive");
  const track = el("div", "ozc-track");
  const fill = el("div", "ozc-fill");
  track.appendChild(fill);
  track.setAttribute("role", "progressbar");
  track.setAttribute("aria-label", texts.progress);
  track.setAttribute("aria-valuemin", "0");
  track.setAttribute("aria-valuemax", "100");
  track.setAttribute("aria-valuenow", "0");
  root.append(stage, prompt, track);
  element.appendChild(root);
  return {
    root,
    video,
    say(m) { prompt.textContent = m; },
    bar(f) {
      const pct = Math.round(Math.max(0, Math.min(1, f)) * 100);
      fill.style.width = `${pct}%`;
      track.setAttribute("aria-valuenow", String(pct));
    },
    icon(action) {
      const svg = action ? iconOf(action) : null;
      icon.replaceChildren(...(svg ? [svg] : []));
      icon.dataset.action = action || "";
    },
    state(s) { root.dataset.state = s; },
    finish(ok, message) {
      root.dataset.state = ok ? "passed" : "failed";
      icon.replaceChildren();
      prompt.textContent = message;
    },
  };
}

async function openCamera(texts) {
  if (!navigator.mediaDevices?.getUserMedia) throw new CaptureError("insecure", texts.insecure);
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
    });
  } catch (e) {
    const n = e?.name || "";
    if (n === "NotAllowedError" || n === "SecurityError") throw new CaptureError("denied", texts.denied, n);
    if (n === "NotFoundError" || n === "OverconstrainedError") throw new CaptureError("no_camera", texts.noCamera, n);
    if (n === "NotReadableError" || n === "AbortError") throw new CaptureError("camera_busy", texts.cameraBusy, n);
    throw new CaptureError("camera", `${texts.noCamera} (${n || e})`, n);
  }
}

async function waitForVideo(video, signal) {
  for (let i = 0; i < 100 && !(video.videoWidth > 0); i++) await sleep(50, signal);
}

/** A small JPEG of the current frame (about 320 px wide), unmirrored. */
function snapshot(video) {
  const w = 320;
  const h = Math.max(64, Math.round((video.videoHeight / Math.max(1, video.videoWidth)) * w));
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  c.getContext("2d").drawImage(video, 0, 0, w, h);
  return new Promise((resolve) => c.toBlob((b) => resolve(b), "image/jpeg", 0.8));
}

/** Polls the precheck until the person is ready READY_IN_A_ROW times in a row. */
async function guide(api, ui, progress, texts, signal) {
  let inRow = 0;
  ui.state("positioning");
  progress("precheck", texts.position);
  for (;;) {
    const t0 = Date.now();
    const blob = await snapshot(ui.video);
    let r = null;
    try {
      r = await api.call("POST", "/api/liveness/precheck", blob, { "Content-Type": "image/jpeg" });
    } catch (e) {
      if (e.code === "busy") { await sleep((e.retryAfter || 1) * 1000, signal); continue; }
      if (e.code === "server" && /does not exist|not found/i.test(e.message)) return; // an older server
      throw e;
    }
    inRow = r?.ready ? inRow + 1 : 0;
    ui.root.dataset.hint = r?.hint || "";
    progress("precheck", r?.ready ? texts.holdStill : r?.message || texts.position);
    if (inRow >= READY_IN_A_ROW) return;
    await sleep(Math.max(0, PRECHECK_EVERY_MS - (Date.now() - t0)), signal);
  }
}

/** Records one clip while prompting each action of the challenge in order. */
async function record(stream, challenge, ui, progress, texts, signal) {
  const mime = pickMimeType();
  if (mime === null) throw new CaptureError("no_recorder", texts.noRecorder);
  const rec = new MediaRecorder(stream, mime ? { mimeType: mime, videoBitsPerSecond: 2500000 } : { videoBitsPerSecond: 2500000 });
  const chunks = [];
  rec.ondataavailable = (e) => { if (e.data && e.data.size) chunks.push(e.data); };
  const stopped = new Promise((resolve) => { rec.onstop = resolve; });
  const actions = challenge.actions || [];
  const instructions = challenge.instructions || actions;
  const total = LEAD_MS + actions.reduce((s, a) => s + (ACTION_MS[a] || 2400), 0) + TAIL_MS;
  const t0 = Date.now();
  const tick = setInterval(() => ui.bar((Date.now() - t0) / total), 100);
  ui.state("recording");
  rec.start(500);
  try {
    progress("record", texts.holdStill, 0);
    ui.icon(null);
    await sleep(LEAD_MS, signal);
    for (let i = 0; i < actions.length; i++) {
      ui.icon(actions[i]);
      ui.root.dataset.action = actions[i];
      progress("record", `${i + 1}/${actions.length}: ${instructions[i]}`);
      await sleep(ACTION_MS[actions[i]] || 2400, signal);
    }
    ui.icon(null);
    ui.root.dataset.action = "";
    progress("record", texts.holdStill);
    await sleep(TAIL_MS, signal);
  } finally {
    clearInterval(tick);
    if (rec.state !== "inactive") rec.stop();
  }
  await stopped;
  const type = (rec.mimeType || mime || "video/webm").split(";")[0];
  return new Blob(chunks, { type });
}

/** Uploads the clip with the challenge; answers the folder JSON with the finished analysis. */
async function send(api, mode, clip, challenge, onProgress, signal) {
  const ext = clip.type.includes("mp4") ? "mp4" : "webm";
  const part = "video";
  // One video tagged video_selfie: QUALITY takes it without source_media (part names are not
  // media ids in a stored folder).
  const payload = {
    "media:tags": { [part]: ["video_selfie", "orientation_portrait"] },
    "folder:meta_data": { capture: "openoz-capture.js" },
    analyses: [{ type: "QUALITY", params: { challenge_id: challenge.challenge_id, extract_best_shot: true } }],
  };
  const form = new FormData();
  form.append(part, clip, `liveness.${ext}`);
  form.append("payload", JSON.stringify(payload));
  if (mode === "instant") return api.upload("/api/instant/folders/", form, onProgress);
  // Folder mode: a single request (the server answers once the analysis is done, or after its
  // single-request timeout: then poll the folder).
  let folder = await api.upload("/api/folders/", form, onProgress);
  const t0 = Date.now();
  for (;;) {
    const q = qualityOf(folder);
    if (q && (q.state === "FINISHED" || q.state === "FAILED")) return folder;
    if (Date.now() - t0 > POLL_LIMIT_MS) throw new CaptureError("timeout", api.texts.busy);
    await sleep(POLL_MS, signal);
    folder = await api.call("GET", `/api/folders/${folder?.folder_id}/`);
  }
}
