// The hosted capture page (/capture/): a thin shell around /sdk/openoz-capture.js.
// URL fragment (never sent to any server): token=<session or access token>, mode=instant|folder,
// origin=<the opener's or parent's origin, to receive the result>, autostart=1 (skip the Start
// button). The token is removed from the address bar as soon as it is read.
import { start } from "/sdk/openoz-capture.js";

const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
const token = params.get("token") || "";
const mode = params.get("mode") === "folder" ? "folder" : "instant";
const origin = params.get("origin") || "";
const autostart = params.get("autostart") === "1";
if (window.location.hash) history.replaceState(null, "", window.location.pathname + window.location.search);

const $ = (id) => document.getElementById(id);
const go = $("go");
const retry = $("retry");
const out = $("result");

let allowed = [];
const ready = fetch("config.json", { credentials: "omit" })
  .then((r) => (r.ok ? r.json() : { origins: [] }))
  .then((c) => { allowed = Array.isArray(c.origins) ? c.origins : []; })
  .catch(() => { allowed = []; });

/** Posts to the opener or parent, only at an origin the server allows (OZ_CAPTURE_ORIGINS). */
function tell(message) {
  if (!origin || !allowed.includes(origin)) return;
  const target = window.opener || (window.parent !== window ? window.parent : null);
  if (target) target.postMessage({ source: "openoz-capture", ...message }, origin);
}

function finished(result) {
  document.body.dataset.verdict = result.verdict || "";
  const reason = result.challenge?.reason;
  out.textContent = result.passed
    ? "Thank you: the check passed. You can close this page."
    : `The check did not pass${reason ? `: ${reason}` : ""}. You can try again.`;
  retry.hidden = result.passed;
  if (!result.passed) retry.focus();
  const { folder, ...summary } = result;
  tell({ type: "result", result: summary });
}

function failed(err) {
  document.body.dataset.verdict = "ERROR";
  document.body.dataset.error = err.code || "error";
  out.textContent = err.message;
  retry.hidden = err.code === "token";
  if (!retry.hidden) retry.focus();
  tell({ type: "error", code: err.code, message: err.message });
}

async function run() {
  await ready;
  go.hidden = true;
  retry.hidden = true;
  out.textContent = "";
  delete document.body.dataset.verdict;
  delete document.body.dataset.error;
  if (!token) {
    failed({ code: "token", message: "This capture link has no token. Ask the site that sent you here for a new link." });
    return;
  }
  const session = start({ element: $("capture"), apiUrl: window.location.origin, token, mode, onResult: finished, onError: failed });
  window.__openozCapture = session;
}

go.addEventListener("click", run);
retry.addEventListener("click", run);
if (autostart) run();
