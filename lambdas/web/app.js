// The SER web page: plain ES module, no build step. Talks to the API named in config.json ('' = same origin).
import {
  fileRow,
  isFinished,
  limiter,
  makeRowOpenable,
  setRowResult,
  setRowState,
  setRowStatus,
  stateOf,
} from './batch.js';
import { COLORS, duration, fileSize, label, megabytes, percent } from './format.js';
import { renderTimeline } from './timeline.js';

const KEY_STORAGE = 'ser.apiKey';
const POLL_LIMIT_MS = 180_000;

const $ = (id) => document.getElementById(id);

// API Gateway ends every request at 29 s (its integration timeout): an answer not come by then never comes,
// and a request left waiting would hold its run (a poll, or an upload's place in uploadSlot) for good. A timer,
// not AbortSignal.timeout, so that the page's own clock governs it (the browser test fast-forwards it).
const API_TIMEOUT_MS = 30_000;
const networkError = (message) => Object.assign(new Error(message), { network: true });

/** Runs `request` with a signal that aborts it after `ms`; answers what `request` answers. */
async function withTimeout(ms, request) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    return await request(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

// A config.json that is missing or unreadable leaves the defaults (the API on this origin, the API's own
// checks), as before; one that never comes would hold the whole page (this top-level await) with no word.
async function loadConfig() {
  try {
    return await withTimeout(API_TIMEOUT_MS, async (signal) => {
      const response = await fetch('config.json', { signal }).catch(() => null);
      const body = response?.ok ? await response.json().catch(() => ({})) : {};
      if (signal.aborted)
        throw new Error(`no answer in ${API_TIMEOUT_MS / 1000} s (a slow or lost connection)`);
      if (!response) throw new Error('no answer (network error)');
      return body;
    });
  } catch (error) {
    return {
      failure: `The page could not load its settings (config.json): ${error.message}. Reload the page.`,
    };
  }
}
const config = await loadConfig();
const apiBase = (config.apiUrl ?? '').replace(/\/$/, '');
// The accepted formats: the server's one list (lambdas/core/audio/formats.ts), handed over in config.json.
const FORMATS = config.formats ?? [];
const EXTENSIONS = FORMATS.flatMap((f) => f.extensions);
const TYPES_BY_EXTENSION = Object.fromEntries(
  FORMATS.flatMap((f) => f.extensions.map((e) => [e, f.contentTypes])),
);
const KNOWN_TYPES = new Set(FORMATS.flatMap((f) => f.contentTypes));
const FORMAT_NAMES = FORMATS.map((f) => f.name).join(', ');
// The API's limits, from config.json too (without them the API still refuses larger or longer files).
const MAX_BYTES = config.maxUploadBytes;
const MAX_DURATION_SEC = config.maxDurationSec;
const limits = [MAX_BYTES && megabytes(MAX_BYTES), MAX_DURATION_SEC && duration(MAX_DURATION_SEC)];
if (limits.some(Boolean)) $('size-limit').textContent = ` (up to ${limits.filter(Boolean).join(' and ')})`;
if (FORMATS.length > 0) {
  $('file-input').accept = [
    ...EXTENSIONS.map((e) => `.${e}`),
    ...FORMATS.flatMap((f) => f.contentTypes),
  ].join(',');
  $('format-names').textContent = FORMAT_NAMES;
}
$('openapi-link').href = `${apiBase}/openapi.json`;

// { blob: Blob, name: string }: a new object for every choice, so that a run can tell whether the file it
// was started for is still the one on show (see analyse).
let selected;
// The files being analysed (their selection objects): those no longer on show go on in the background.
const running = new Set();
// Those of them still waiting for their turn to upload (see send): nothing of them is sent yet.
const waitingRuns = new Set();

// ---- API key (remembered in this browser) ----
$('api-key').value = localStorage.getItem(KEY_STORAGE) ?? '';
$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  localStorage.setItem(KEY_STORAGE, $('api-key').value.trim());
  $('key-status').textContent = 'Saved.';
  // A new key: what the old one was told (e.g. "refused") no longer holds; refreshRecent says if this one is.
  showMessage('');
  refreshRecent();
});
const apiKey = () => $('api-key').value.trim();

// Our API answers an error with { error: { code, message } }; API Gateway's own refusals (a wrong key,
// throttling, its 5xx) with { message } only; a network failure or no answer in time with nothing.
async function api(path, init = {}, timeoutMs = API_TIMEOUT_MS) {
  return withTimeout(timeoutMs, async (signal) => {
    const failed = () =>
      networkError(
        signal.aborted
          ? `no answer from the API in ${Math.ceil(timeoutMs / 1000)} s (a slow or lost connection)`
          : 'no answer from the API (network error)',
      );
    const response = await fetch(`${apiBase}${path}`, {
      ...init,
      signal,
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey(), ...(init.headers ?? {}) },
    }).catch(() => {
      throw failed();
    });
    const body = (await response.json().catch(() => null)) ?? {};
    // A body cut off by the timer is no answer, not an empty one.
    if (signal.aborted) throw failed();
    if (!response.ok) {
      const message = body.error?.message ?? body.message ?? 'the API gave no reason';
      throw Object.assign(new Error(message), { code: body.error?.code, status: response.status });
    }
    return body;
  });
}

// ---- messages ----
function showMessage(text) {
  $('message').textContent = text;
  $('message').hidden = !text;
}
const setStatus = (text) => {
  $('status').textContent = text;
  delete $('status').dataset.background;
};
// Names the runs of files no longer on show; said again when one of them starts uploading or ends, while
// nothing newer was said.
function showBackgroundRuns() {
  const runs = [...running].filter((run) => run !== selected);
  const names = (list) => list.map((run) => run.name).join(', ');
  const sending = runs.filter((run) => !waitingRuns.has(run));
  const waiting = runs.filter((run) => waitingRuns.has(run));
  const sentences = [];
  if (sending.length > 0) {
    sentences.push(
      `Still analysing ${names(sending)}: ${sending.length > 1 ? 'their results' : 'its result'} will appear under Recent predictions.`,
    );
  }
  if (waiting.length > 0) {
    const [verb, pronoun, results] =
      waiting.length > 1 ? ['are', 'they', 'their results'] : ['is', 'it', 'its result'];
    sentences.push(
      `${names(waiting)} ${verb} still waiting to upload; ${pronoun} will be sent and ${results} will appear under Recent predictions.`,
    );
  }
  setStatus(sentences.join(' '));
  if (runs.length > 0) $('status').dataset.background = 'true';
}
// A background run's news, said only while the status still speaks of the background runs.
function updateBackgroundRuns() {
  if ($('status').dataset.background) showBackgroundRuns();
}
const describe = (error) =>
  error.code
    ? `${error.code}: ${error.message}`
    : error.status
      ? `HTTP ${error.status}: ${error.message}`
      : `Error: ${error.message}`;
const explain = (error) =>
  error.received
    ? error.message
    : error.status === 403
      ? 'The API key was refused: check the key above.'
      : error.code === 'UNSUPPORTED_FORMAT'
        ? `Rejected: ${error.message}`
        : error.code === 'TOO_LARGE'
          ? `Rejected: the file is too large (${error.message}).`
          : describe(error);

// Disabling the focused Analyse button drops focus to <body>, where a keyboard or screen-reader user loses
// their place: it goes to the status line for the run, then to the result or the message. Focus that the
// user has moved elsewhere meanwhile stays where they put it.
function moveFocus(from, to) {
  if (document.activeElement === from || document.activeElement === document.body) to.focus();
}

// ---- choosing audio ----
function extensionOf(name) {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** Why the page does not send a file ('' when it may): what follows "the file is". The API refuses the same. */
function refusalOf(blob, name) {
  if (EXTENSIONS.length > 0 && !EXTENSIONS.includes(extensionOf(name))) {
    return `not a supported file: use ${FORMAT_NAMES}`;
  }
  if (blob.size === 0) return 'empty';
  if (MAX_BYTES && blob.size > MAX_BYTES) {
    return `${(blob.size / 1048576).toFixed(1)} MB; the limit is ${megabytes(MAX_BYTES)}`;
  }
  return '';
}

// A new choice replaces the file on show, refused or not: "Analyse" must never send a file not shown.
function clearSelection() {
  showMessage('');
  $('result').hidden = true;
  resetProgress();
  selected = null;
  showBackgroundRuns();
  $('selected').hidden = true;
}

async function select(blob, name) {
  clearSelection();
  const refusal = refusalOf(blob, name);
  if (refusal) return showMessage(`"${name}" is ${refusal}.`);
  selected = { blob, name };
  // A run of the previous file may still be going on; it no longer owns the button (see analyse).
  $('analyse').disabled = false;
  $('selected').hidden = false;
  $('selected-name').textContent = name;
  $('selected-size').textContent = `(${fileSize(blob.size)})`;
  $('player').src = URL.createObjectURL(blob);
  drawWaveform(selected);
}

// One file is shown and analysed on its own, as before; several go to the batch list (below).
function chooseFiles(files) {
  if (files.length === 1) select(files[0], files[0].name);
  else if (files.length > 1) addToBatch(files);
}

$('file-input').addEventListener('change', () => chooseFiles([...($('file-input').files ?? [])]));
const zone = $('drop-zone');
zone.addEventListener('dragover', (event) => {
  event.preventDefault();
  zone.classList.add('dragging');
});
zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
zone.addEventListener('drop', (event) => {
  event.preventDefault();
  zone.classList.remove('dragging');
  chooseFiles([...(event.dataTransfer?.files ?? [])]);
});

// ---- waveform ----
// One decoder for every file: each AudioContext holds the audio device until closed, and Chrome fails new
// ones after a few dozen. An offline one needs no device (nor a click to start), and 8 kHz is plenty for a
// 900-pixel drawing while it keeps a 10-minute file's samples small.
let decoder;
const waveformDecoder = () => {
  decoder ??= new OfflineAudioContext(1, 1, 8000);
  return decoder;
};

async function drawWaveform(selection) {
  const canvas = $('waveform');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  delete canvas.dataset.durationSec;
  try {
    const audio = await waveformDecoder().decodeAudioData(await selection.blob.arrayBuffer());
    // A long file decodes for seconds: by then another one may be selected, whose waveform this is not.
    if (selected !== selection) return;
    const samples = audio.getChannelData(0);
    const step = Math.max(1, Math.floor(samples.length / canvas.width));
    const mid = canvas.height / 2;
    ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--accent') || '#3559e0';
    for (let x = 0; x < canvas.width; x++) {
      let min = 1;
      let max = -1;
      for (let i = x * step; i < Math.min(samples.length, (x + 1) * step); i++) {
        if (samples[i] < min) min = samples[i];
        if (samples[i] > max) max = samples[i];
      }
      if (max < min) continue;
      ctx.fillRect(x, mid - max * mid, 1, Math.max(1, (max - min) * mid));
    }
    canvas.dataset.durationSec = String(audio.duration);
    refuseIfTooLong(selection, audio.duration);
  } catch {
    if (selected !== selection) return;
    ctx.fillStyle = '#6b7280';
    ctx.fillText('(this browser cannot draw this file; the server can still analyse it)', 10, 20);
  }
}

// The browser's decoder and the API's may differ by a few milliseconds (resampling to 8 kHz here, MP3's
// encoder padding): the page refuses only audio over the limit by more than that, and the API decides the rest.
const DURATION_SLACK_SEC = 0.05;

/** Why audio of `seconds` is not sent ('' when it may be): what follows "the file is", as in refusalOf. */
const lengthRefusal = (seconds) =>
  MAX_DURATION_SEC && seconds > MAX_DURATION_SEC + DURATION_SLACK_SEC
    ? `${seconds.toFixed(1)} s long; the limit is ${duration(MAX_DURATION_SEC)}`
    : '';

/**
 * A file on show whose audio is over the API's limit (MAX_DURATION_SEC) is not sent: the API would refuse it.
 * A long file may finish decoding after Analyse was pressed: that run's own answer (TOO_LONG) is the message,
 * and the button stays off once it ends (analyse).
 */
function refuseIfTooLong(selection, seconds) {
  const refusal = lengthRefusal(seconds);
  if (!refusal) return;
  selection.refusal = refusal;
  if (running.has(selection)) return;
  showMessage(`"${selection.name}" is ${selection.refusal}.`);
  $('analyse').disabled = true;
}

// ---- recording: what MediaRecorder writes (WebM/Opus, or MP4 in Safari) is uploaded as it is ----
const RECORDING_EXTENSIONS = {
  'audio/webm': 'webm',
  'video/webm': 'webm',
  'audio/mp4': 'm4a',
  'audio/ogg': 'ogg',
};
let recorder;

// What the recorder writes runs a little past the moment it is told to stop, and the API refuses anything
// over MAX_DURATION_SEC: it is stopped a second short of the limit.
const RECORDING_MARGIN_SEC = 1;

/** Stops `media` (a started MediaRecorder) at the API's limit; answers whether that is what stopped it. */
function stopAtLimit(media) {
  if (!MAX_DURATION_SEC) return () => false;
  let reached = false;
  const timer = setTimeout(
    () => {
      reached = true;
      media.stop();
    },
    (MAX_DURATION_SEC - RECORDING_MARGIN_SEC) * 1000,
  );
  media.addEventListener('stop', () => clearTimeout(timer));
  return () => reached;
}

$('record').addEventListener('click', async () => {
  if (recorder?.state === 'recording') {
    recorder.stop();
    return;
  }
  try {
    // Raw voice: echo cancellation, noise suppression and gain control would change what the model hears.
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (event) => chunks.push(event.data);
    const reachedLimit = stopAtLimit(recorder);
    recorder.onstop = () => {
      for (const track of stream.getTracks()) track.stop();
      $('record').setAttribute('aria-pressed', 'false');
      $('record').textContent = '● Record from microphone';
      $('record-status').textContent = reachedLimit()
        ? `Recording stopped at the limit of ${duration(MAX_DURATION_SEC)}.`
        : '';
      const type = recorder.mimeType || chunks[0]?.type || 'audio/webm';
      const extension = RECORDING_EXTENSIONS[type.split(';')[0].trim()] ?? 'webm';
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      select(new Blob(chunks, { type }), `recording-${stamp}.${extension}`);
    };
    recorder.start();
    $('record').setAttribute('aria-pressed', 'true');
    $('record').textContent = '■ Stop recording';
    $('record-status').textContent = MAX_DURATION_SEC
      ? `Recording… (it stops by itself at ${duration(MAX_DURATION_SEC)})`
      : 'Recording…';
  } catch (error) {
    showMessage(`Cannot record: ${error.message}`);
  }
});

// ---- upload through the presigned URL, with progress ----
// An upload that hangs (a connection that died without an error) would hold its place in uploadSlot for
// good, and every file after it would wait forever. It is stopped after the longer of MIN_UPLOAD_TIMEOUT_MS
// and the time the file takes at SLOWEST_UPLOAD_BYTES_PER_SEC: generous for a slow line (the 25 MB limit
// is about 14 minutes at 256 kbit/s), while a hung upload ends as a failed one and frees its place. The
// request for its URL before it has a timeout of its own (API_TIMEOUT_MS, in api).
const MIN_UPLOAD_TIMEOUT_MS = 5 * 60_000;
const SLOWEST_UPLOAD_BYTES_PER_SEC = 32_000;
const uploadTimeoutMs = (bytes) =>
  Math.max(MIN_UPLOAD_TIMEOUT_MS, Math.ceil((bytes / SLOWEST_UPLOAD_BYTES_PER_SEC) * 1000));

// S3 answers 403 to a presigned URL past its life (5 minutes) or whose signature no longer holds (a PUT
// signs the declared size: a file that changed since it was chosen no longer matches): trying again asks
// for a new one.
const storageRefusal = (status) =>
  status === 403
    ? 'the upload link was refused: it expired, or the file changed size since it was chosen (HTTP 403): try again'
    : `storage refused the upload (HTTP ${status})`;

function uploadTo(upload, { blob, name }, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method, upload.url);
    const timeoutMs = uploadTimeoutMs(blob.size);
    xhr.timeout = timeoutMs;
    xhr.ontimeout = () => {
      const minutes = Math.round(timeoutMs / 60_000);
      reject(
        new Error(
          `the upload did not finish in ${minutes} minutes and was stopped (a slow or lost connection)`,
        ),
      );
    };
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(Math.round((event.loaded / event.total) * 100));
    };
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Error(storageRefusal(xhr.status))));
    xhr.onerror = () => reject(new Error('the upload failed (network error)'));
    if (upload.method === 'PUT') {
      for (const [header, value] of Object.entries(upload.headers ?? {})) xhr.setRequestHeader(header, value);
      xhr.send(blob);
    } else {
      const form = new FormData();
      for (const [field, value] of Object.entries(upload.fields ?? {})) form.append(field, value);
      form.append('file', blob, name);
      xhr.send(form);
    }
  });
}

function resetProgress() {
  $('progress-box').hidden = true;
  $('upload-progress').value = 0;
  $('progress-text').textContent = '';
}
function showProgress(percent) {
  $('progress-box').hidden = false;
  $('upload-progress').value = percent;
  $('progress-text').textContent = `${percent}%`;
}

// ---- analysing: a run belongs to the file it was started for ----
$('analyse').addEventListener('click', () => {
  if (selected?.refusal) showMessage(`"${selected.name}" is ${selected.refusal}.`);
  else if (selected) analyse(selected);
});

// Choosing another file while a run goes on does not stop it (the upload may be half sent, and the server
// analyses whatever arrives): the run goes on unseen and its result lands in the recent predictions. Only
// the run of the file on show writes the status, the progress bar, the message and the result.
async function analyse(selection) {
  if (!apiKey()) return showMessage('Enter the API key first.');
  const onShow = () => selected === selection;
  const status = (text) => onShow() && setStatus(text);
  showMessage('');
  $('result').hidden = true;
  // The same file analysed again: its last run's bar (100 %) is not this run's.
  resetProgress();
  moveFocus($('analyse'), $('status'));
  $('analyse').disabled = true;
  running.add(selection);
  try {
    const progress = (percent) => onShow() && showProgress(percent);
    const waiting = () => {
      waitingRuns.add(selection);
      status(`Waiting to upload: the page sends ${MAX_PARALLEL_UPLOADS} files at a time.`);
    };
    const started = () => {
      if (waitingRuns.delete(selection) && !onShow()) updateBackgroundRuns();
    };
    const created = await send(selection, { status, progress, waiting, started });
    status('Uploaded. Analysing…');
    const prediction = await poll(created.predictionUrl, status);
    if (onShow()) showPrediction(prediction);
  } catch (error) {
    if (onShow()) {
      showMessage(explain(error));
      setStatus('');
      moveFocus($('status'), $('message'));
    }
  } finally {
    running.delete(selection);
    waitingRuns.delete(selection);
    if (onShow()) $('analyse').disabled = Boolean(selection.refusal);
    else updateBackgroundRuns();
    refreshRecent();
  }
}

// Leaving the page while a file is being sent loses it (the server never gets the whole file): the browser
// asks first. Once it is sent, the server analyses it whatever the page does, and leaving is harmless.
let unsent = 0;
window.addEventListener('beforeunload', (event) => {
  if (unsent > 0) event.preventDefault();
});
/** Runs `task` (the sending of one file) with the page asking before it is left. */
async function untilSent(task) {
  unsent += 1;
  try {
    return await task();
  } finally {
    unsent -= 1;
  }
}

// The type the upload is signed for. Browsers name a file's type in their own words (application/octet-stream
// for an .mp3, or nothing at all), which the API refuses when it does not list it: the browser's type is
// sent only when the API lists it for the file's extension, else the API's own type for that extension (a
// recording's name is made from its type). Without config.json's list, only a type the API lists; or none,
// and the API signs its format's first type.
function contentTypeOf({ blob, name }) {
  const browserType = blob.type.split(';')[0].trim().toLowerCase();
  const types = TYPES_BY_EXTENSION[extensionOf(name)];
  if (types) return types.includes(browserType) ? browserType : types[0];
  return KNOWN_TYPES.has(browserType) ? browserType : undefined;
}

// Uploads share the line, so a few at a time finish sooner each. Every file the page sends, on its own or
// in a batch, takes its turn here; waiting for a result takes no turn.
const MAX_PARALLEL_UPLOADS = 2;
const uploadSlot = limiter(MAX_PARALLEL_UPLOADS);

/**
 * Sends the file in its turn (`waiting` is called if it has to wait for one, `started` when its turn
 * comes), the page asking before it is left until the file is sent. `status` takes what is going on,
 * `progress` the percent.
 */
function send(selection, { status, progress, waiting, started }) {
  return untilSent(() =>
    uploadSlot(() => {
      started?.();
      return sendNow(selection, { status, progress });
    }, waiting),
  );
}

/** Asks for an upload URL and sends the file there. */
async function sendNow(selection, { status, progress }) {
  status('Requesting an upload URL…');
  const created = await api('/uploads', {
    method: 'POST',
    body: JSON.stringify({
      fileName: selection.name,
      contentType: contentTypeOf(selection),
      sizeBytes: selection.blob.size,
    }),
  }).catch((error) => {
    if (!error.network) throw error;
    throw new Error(`could not get an upload URL: ${error.message}. The file was not sent: try again.`);
  });
  progress(0);
  status('Uploading…');
  await uploadTo(created.upload, selection, progress);
  return created;
}

const failureOf = (prediction) => `${prediction.error?.code} — ${prediction.error?.message}`;

function showPrediction(prediction) {
  if (prediction.status === 'FAILED') {
    showMessage(`The file could not be analysed: ${failureOf(prediction)}`);
    setStatus('');
    moveFocus($('status'), $('message'));
  } else {
    render(prediction);
    setStatus('Done.');
    moveFocus($('status'), $('result-heading'));
  }
}

// The file is on the server by now and is analysed whatever the page hears: a poll that fails for a passing
// reason (a network blip, throttling, a 5xx) is asked again after a growing pause, until POLL_LIMIT_MS.
const isTransient = (error) => error.network === true || error.status === 429 || error.status >= 500;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(path, status) {
  const deadline = Date.now() + POLL_LIMIT_MS;
  const left = () => deadline - Date.now();
  let delay = 300;
  let lastError;
  while (left() > 0) {
    try {
      // Neither the last request nor the pause before it may run past the limit: each gets what is left.
      const prediction = await api(path, {}, Math.min(API_TIMEOUT_MS, left()));
      if (prediction.status === 'SUCCEEDED' || prediction.status === 'FAILED') return prediction;
      status(`Analysing… (${prediction.status.toLowerCase()})`);
      lastError = undefined;
      delay = Math.min(delay * 1.5, 2000);
    } catch (error) {
      if (!isTransient(error)) throw error;
      lastError = error;
      delay = Math.min(Math.max(delay * 2, 1000), 15_000);
      status(`The file was received, but asking for its result failed (${describe(error)}); asking again…`);
    }
    const pause = Math.min(delay, left());
    if (pause > 0) await sleep(pause);
  }
  const why = lastError
    ? `asking for its result kept failing (${describe(lastError)})`
    : 'it has no result yet';
  throw Object.assign(
    new Error(
      `The file was received, but after 3 minutes ${why}: look for it under Recent predictions later.`,
    ),
    { received: true },
  );
}

// ---- several files at once: one row each in the batch list ----
// { blob, name, row }: every file chosen with others during this visit, in the order chosen.
const batch = [];
const filesText = (count) => `${count} file${count === 1 ? '' : 's'}`;
const setBatchStatus = (text) => {
  $('batch-status').textContent = text;
};

// New files join the list: earlier ones, running or done, stay with their results. Each is checked as a
// single file is, and a refused one says why in its row without asking the API.
function addToBatch(files) {
  clearSelection();
  const items = files.map((file) => ({ blob: file, name: file.name, row: fileRow(file.name, file.size) }));
  for (const item of items) {
    const refusal = refusalOf(item.blob, item.name);
    if (refusal) refuse(item, refusal);
    else item.lengthChecked = checkLength(item);
  }
  batch.push(...items);
  $('batch-rows').append(...items.map((item) => item.row));
  $('batch').hidden = false;
  updateBatchButton();
  const refused = items.filter((item) => stateOf(item.row) === 'refused').length;
  setBatchStatus(
    `${filesText(items.length)} added to the list${refused ? `; ${refused} cannot be sent, see why in the list` : ''}.`,
  );
}

// A batch's files are decoded one after another (each holds its samples while it is), in the order chosen.
// One the browser cannot decode is sent: the API decides.
let decoding = Promise.resolve('');
function lengthRefusalOf(blob) {
  if (!MAX_DURATION_SEC) return Promise.resolve('');
  decoding = decoding
    .then(async () =>
      lengthRefusal((await waveformDecoder().decodeAudioData(await blob.arrayBuffer())).duration),
    )
    .catch(() => '');
  return decoding;
}

/** Refuses a row whose file is too long if no run has it yet (analyseItem does then); answers the refusal. */
async function checkLength(item) {
  const refusal = await lengthRefusalOf(item.blob);
  if (refusal && stateOf(item.row) === 'ready') {
    refuse(item, refusal);
    updateBatchButton();
    setBatchStatus(`${item.name} cannot be sent: it is ${refusal}.`);
  }
  return refusal;
}

const readyItems = () => batch.filter((item) => stateOf(item.row) === 'ready');

function updateBatchButton() {
  const count = readyItems().length;
  $('batch-analyse').disabled = count === 0;
  $('batch-analyse').textContent = count > 0 ? `Analyse ${filesText(count)}` : 'Analyse files';
}

$('batch-analyse').addEventListener('click', analyseBatch);

async function analyseBatch() {
  if (!apiKey()) return showMessage('Enter the API key first.');
  showMessage('');
  const items = readyItems();
  for (const item of items) setRowState(item.row, 'queued', 'Waiting to upload');
  updateBatchButton();
  moveFocus($('batch-analyse'), $('batch-status'));
  setBatchStatus(`Analysing ${filesText(items.length)}, ${MAX_PARALLEL_UPLOADS} uploads at a time.`);
  // The tally is this run's: rows finished in an earlier run, or added since and still ready, are not its files.
  await Promise.all(items.map(async (item) => announceEnd(items, item, await analyseItem(item))));
  refreshRecent();
}

// A failure (the API's refusal, a failed upload, audio that could not be analysed) ends its own row only.
// Answers the outcome to announce.
async function analyseItem(item) {
  try {
    // A row queued before its file was decoded waits for that (still queued: leaving asks first): one too
    // long is not sent.
    const tooLong = await untilSent(() => item.lengthChecked);
    if (tooLong) {
      refuse(item, tooLong);
      return `not sent: it is ${tooLong}`;
    }
    const created = await sendItem(item);
    setRowState(item.row, 'analysing', 'Waiting for the result…');
    const prediction = await poll(created.predictionUrl, (text) => setRowStatus(item.row, text));
    if (prediction.status === 'FAILED') return fail(item, failureOf(prediction));
    return succeed(item, prediction);
  } catch (error) {
    return fail(item, explain(error));
  }
}

function sendItem(item) {
  const status = (text) => setRowState(item.row, 'sending', text);
  return send(item, { status, progress: (percent) => status(`Uploading ${percent}%`) });
}

function refuse(item, refusal) {
  setRowState(item.row, 'refused', 'Not sent');
  setRowResult(item.row, `It is ${refusal}.`);
}

// The row's result says low confidence in words too: its colour alone would not reach everyone.
function succeed(item, prediction) {
  const { headline, warn } = confidenceNote(prediction);
  const summary = `${label(prediction.emotion)}, ${headline}${warn ? ' (low confidence)' : ''}`;
  setRowState(item.row, 'done', 'Done');
  setRowResult(item.row, summary, warn);
  makeRowOpenable(item.row, () => openPrediction(prediction));
  return summary;
}

function fail(item, reason) {
  setRowState(item.row, 'failed', 'Failed');
  setRowResult(item.row, reason);
  return `failed: ${reason}`;
}

// Only a file's end is announced: every upload percentage of a batch would drown the screen reader.
function announceEnd(run, item, outcome) {
  const finished = run.filter((entry) => isFinished(entry.row)).length;
  const tally =
    finished === run.length
      ? `All ${filesText(run.length)} finished.`
      : `${finished} of ${filesText(run.length)} finished.`;
  setBatchStatus(`${tally} ${item.name}: ${outcome}`);
}

// ---- result ----

// `lowConfidence` (docs/api.md, "Confidence") has two causes the API does not tell apart: less than
// MIN_CONFIDENT_SPEECH_SEC of speech, or a calibrated confidence below the model's threshold. A recording whose
// segments name different emotions has a low overall confidence for a third reason: its windows' mean
// spreads over them, each part may be clear. The page says which, from the segments; low it says in every case.
const MIN_CONFIDENT_SPEECH_SEC = 1; // lambdas/core/predict.ts, the same name
const LISTED_EMOTIONS = 3;

/** The seconds the segments cover (overlapping windows counted once): at least the speech in them. */
function segmentsSec(segments) {
  let covered = 0;
  let end = 0;
  for (const s of segments) {
    covered += Math.max(0, s.endSec - Math.max(s.startSec, end));
    end = Math.max(end, s.endSec);
  }
  return covered;
}

/** What follows the emotion in the headline, a line that says why when it is low, and whether it warns. */
function confidenceNote(prediction) {
  const confident = `${percent(prediction.confidence)} confident`;
  if (!prediction.lowConfidence) return { headline: confident, note: '', warn: false };
  const segments = prediction.segments ?? [];
  const emotions = [...new Set(segments.map((s) => s.emotion))];
  if (segments.length > 0 && segmentsSec(segments) < MIN_CONFIDENT_SPEECH_SEC) {
    const note = `Low confidence: under ${MIN_CONFIDENT_SPEECH_SEC} s of speech is too little to be sure of the emotion.`;
    return { headline: confident, note, warn: true };
  }
  if (emotions.length > 1) {
    const names = emotions.map(label);
    const which =
      names.length > LISTED_EMOTIONS
        ? `${names.length} emotions`
        : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
    // Still the API's lowConfidence, in words and colour: no one emotion holds for the whole clip.
    const note = `The recording mixes ${which}: the timeline below shows each part. Low confidence overall: no one emotion holds for the whole recording.`;
    return { headline: `${percent(prediction.confidence)} overall`, note, warn: true };
  }
  // A calibrated confidence under 50 % is wrong more often than right, whatever the model's threshold.
  const note =
    prediction.confidence < 0.5
      ? 'Low confidence: more likely wrong than right; treat it as a guess.'
      : "Low confidence: too little speech, or below the model's threshold.";
  return { headline: confident, note, warn: true };
}

function render(prediction) {
  $('result').hidden = false;
  $('result-emotion').textContent = label(prediction.emotion);
  $('result-emotion').style.color = COLORS[prediction.emotion] ?? '';
  const { headline, note, warn } = confidenceNote(prediction);
  $('result-confidence').textContent = headline;
  $('result-confidence').classList.toggle('low-confidence', warn);
  $('result-note').textContent = note;
  $('result-note').hidden = !note;
  $('result-note').classList.toggle('low-confidence', warn);
  const chart = $('chart');
  chart.replaceChildren();
  const entries = Object.entries(prediction.probabilities ?? {}).sort((a, b) => b[1] - a[1]);
  for (const [emotion, p] of entries) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = label(emotion);
    const bar = document.createElement('div');
    bar.className = emotion === prediction.emotion ? 'bar top' : 'bar';
    bar.style.width = `${p * 100}%`;
    bar.setAttribute('aria-hidden', 'true');
    const value = document.createElement('span');
    value.textContent = percent(p, 1);
    item.append(name, bar, value);
    chart.append(item);
  }
  renderTimeline(prediction);
  $('result-meta').textContent =
    `${prediction.fileName} · ${prediction.durationSec?.toFixed(2) ?? '?'} s · model ${prediction.modelVersion ?? '?'}`;
}

// ---- recent predictions ----
async function refreshRecent() {
  if (!apiKey()) return;
  try {
    const { items } = await api('/predictions?limit=10');
    $('recent').replaceChildren(...items.map(recentRow));
  } catch (error) {
    showMessage(explain(error));
  }
}

// The file name is a button, which keyboards and screen readers know how to press; a click anywhere on the
// row does the same for a mouse (the button's own click reaches the row too).
function recentRow(p) {
  const row = document.createElement('tr');
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'open';
  open.textContent = p.fileName;
  const cells = [
    // Short date and time: the full form took a third of a phone's width.
    new Date(p.createdAt).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }),
    open,
    p.source,
    p.status,
    p.emotion
      ? `${label(p.emotion)} (${percent(p.confidence)}${p.lowConfidence ? ', low confidence' : ''})`
      : (p.error?.code ?? ''),
  ];
  for (const content of cells) {
    const cell = document.createElement('td');
    cell.append(content);
    row.append(cell);
  }
  row.addEventListener('click', () => openPrediction(p));
  return row;
}

// An item of a list replaces what the page showed: an earlier message or another file's result.
function openPrediction(p) {
  showMessage('');
  if (p.status === 'SUCCEEDED') {
    render(p);
    $('result-heading').focus();
    return;
  }
  $('result').hidden = true;
  showMessage(p.error ? `${p.fileName}: ${p.error.code} — ${p.error.message}` : `${p.fileName}: ${p.status}`);
}
$('refresh').addEventListener('click', refreshRecent);
// Without its settings the page cannot reach the API: that is the message, not a failed list under it.
if (config.failure) showMessage(config.failure);
else refreshRecent();
// Every listener is attached: a page's load event can come before this module's top-level await ends.
document.body.dataset.ready = '';
