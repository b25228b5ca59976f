// The SER web page: plain ES module, no build step. Talks to the API named in config.json ('' = same origin).
const KEY_STORAGE = 'ser.apiKey';
const POLL_LIMIT_MS = 180_000;
const COLORS = {
  angry: '#dc2626',
  disgust: '#65a30d',
  fear: '#7c3aed',
  happy: '#f59e0b',
  neutral: '#6b7280',
  ps: '#0891b2',
  pleasant_surprise: '#0891b2',
  surprise: '#0891b2',
  sad: '#2563eb',
};

const $ = (id) => document.getElementById(id);
const config = await fetch('config.json')
  .then((r) => (r.ok ? r.json() : {}))
  .catch(() => ({}));
const apiBase = (config.apiUrl ?? '').replace(/\/$/, '');
// The accepted formats: the server's one list (lambdas/core/audio/formats.ts), handed over in config.json.
const FORMATS = config.formats ?? [];
const EXTENSIONS = FORMATS.flatMap((f) => f.extensions);
const CONTENT_TYPES = Object.fromEntries(
  FORMATS.flatMap((f) => f.extensions.map((e) => [e, f.contentTypes[0]])),
);
const FORMAT_NAMES = FORMATS.map((f) => f.name).join(', ');
// The API's upload limit, from config.json too (without it the API still refuses larger files).
const MAX_BYTES = config.maxUploadBytes;
const megabytes = (bytes) => `${Math.round((bytes / 1048576) * 10) / 10} MB`;
if (MAX_BYTES) $('size-limit').textContent = ` (up to ${megabytes(MAX_BYTES)})`;
if (FORMATS.length > 0) {
  $('file-input').accept = [
    ...EXTENSIONS.map((e) => `.${e}`),
    ...FORMATS.flatMap((f) => f.contentTypes),
  ].join(',');
  $('format-names').textContent = FORMAT_NAMES;
}
$('openapi-link').href = `${apiBase}/openapi.json`;

let selected; // { blob: Blob, name: string }

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

async function api(path, init = {}) {
  const response = await fetch(`${apiBase}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey(), ...(init.headers ?? {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error?.message ?? `HTTP ${response.status}`);
    error.code = body.error?.code ?? `HTTP_${response.status}`;
    error.status = response.status;
    throw error;
  }
  return body;
}

// ---- messages ----
function showMessage(text) {
  $('message').textContent = text;
  $('message').hidden = !text;
}
const setStatus = (text) => {
  $('status').textContent = text;
};
const explain = (error) =>
  error.status === 403
    ? 'The API key was refused: check the key above.'
    : error.code === 'UNSUPPORTED_FORMAT'
      ? `Rejected: ${error.message}`
      : error.code === 'TOO_LARGE'
        ? `Rejected: the file is too large (${error.message}).`
        : `${error.code ?? 'Error'}: ${error.message}`;

// ---- choosing audio ----
function extensionOf(name) {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

async function select(blob, name) {
  showMessage('');
  $('result').hidden = true;
  // A refused file replaces the earlier choice too: "Analyse" must never send a file not shown.
  selected = null;
  $('selected').hidden = true;
  if (EXTENSIONS.length > 0 && !EXTENSIONS.includes(extensionOf(name))) {
    showMessage(`"${name}" is not a supported file: use ${FORMAT_NAMES}.`);
    return;
  }
  if (blob.size === 0) return showMessage(`"${name}" is empty.`);
  if (MAX_BYTES && blob.size > MAX_BYTES) {
    return showMessage(
      `"${name}" is ${(blob.size / 1048576).toFixed(1)} MB; the limit is ${megabytes(MAX_BYTES)}.`,
    );
  }
  selected = { blob, name };
  $('selected').hidden = false;
  $('selected-name').textContent = name;
  $('selected-size').textContent = `(${(blob.size / 1024).toFixed(0)} KB)`;
  $('player').src = URL.createObjectURL(blob);
  drawWaveform(blob);
}

$('file-input').addEventListener('change', () => {
  const file = $('file-input').files?.[0];
  if (file) select(file, file.name);
});
const zone = $('drop-zone');
zone.addEventListener('dragover', (event) => {
  event.preventDefault();
  zone.classList.add('dragging');
});
zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
zone.addEventListener('drop', (event) => {
  event.preventDefault();
  zone.classList.remove('dragging');
  const file = event.dataTransfer?.files?.[0];
  if (file) select(file, file.name);
});

// ---- waveform ----
async function drawWaveform(blob) {
  const canvas = $('waveform');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  try {
    const audio = await new AudioContext().decodeAudioData(await blob.arrayBuffer());
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
  } catch {
    ctx.fillStyle = '#6b7280';
    ctx.fillText('(this browser cannot draw this file; the server can still analyse it)', 10, 20);
  }
}

// ---- recording: what MediaRecorder writes (WebM/Opus, or MP4 in Safari) is uploaded as it is ----
const RECORDING_EXTENSIONS = {
  'audio/webm': 'webm',
  'video/webm': 'webm',
  'audio/mp4': 'm4a',
  'audio/ogg': 'ogg',
};
let recorder;
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
    recorder.onstop = () => {
      for (const track of stream.getTracks()) track.stop();
      $('record').setAttribute('aria-pressed', 'false');
      $('record').textContent = '● Record from microphone';
      $('record-status').textContent = '';
      const type = recorder.mimeType || chunks[0]?.type || 'audio/webm';
      const extension = RECORDING_EXTENSIONS[type.split(';')[0].trim()] ?? 'webm';
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      select(new Blob(chunks, { type }), `recording-${stamp}.${extension}`);
    };
    recorder.start();
    $('record').setAttribute('aria-pressed', 'true');
    $('record').textContent = '■ Stop recording';
    $('record-status').textContent = 'Recording…';
  } catch (error) {
    showMessage(`Cannot record: ${error.message}`);
  }
});

// ---- upload through the presigned URL, with progress ----
function uploadTo(upload, blob, name) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method, upload.url);
    xhr.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.round((event.loaded / event.total) * 100);
      $('upload-progress').value = percent;
      $('progress-text').textContent = `${percent}%`;
    };
    xhr.onload = () =>
      xhr.status < 300 ? resolve() : reject(new Error(`storage refused the upload (HTTP ${xhr.status})`));
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

$('analyse').addEventListener('click', async () => {
  if (!selected) return;
  if (!apiKey()) return showMessage('Enter the API key first.');
  showMessage('');
  $('result').hidden = true;
  $('analyse').disabled = true;
  try {
    setStatus('Requesting an upload URL…');
    const created = await api('/uploads', {
      method: 'POST',
      body: JSON.stringify({
        fileName: selected.name,
        // A recording declares its own type (e.g. audio/webm;codecs=opus); a file, its extension's.
        contentType: selected.blob.type || CONTENT_TYPES[extensionOf(selected.name)],
        sizeBytes: selected.blob.size,
      }),
    });
    $('progress-box').hidden = false;
    $('upload-progress').value = 0;
    setStatus('Uploading…');
    await uploadTo(created.upload, selected.blob, selected.name);
    setStatus('Uploaded. Analysing…');
    const prediction = await poll(created.predictionUrl);
    if (prediction.status === 'FAILED') {
      showMessage(`The file could not be analysed: ${prediction.error?.code} — ${prediction.error?.message}`);
      setStatus('');
    } else {
      render(prediction);
      setStatus('Done.');
    }
  } catch (error) {
    showMessage(explain(error));
    setStatus('');
  } finally {
    $('analyse').disabled = false;
    refreshRecent();
  }
});

async function poll(path) {
  const started = Date.now();
  let delay = 300;
  while (Date.now() - started < POLL_LIMIT_MS) {
    const prediction = await api(path);
    if (prediction.status === 'SUCCEEDED' || prediction.status === 'FAILED') return prediction;
    setStatus(`Analysing… (${prediction.status.toLowerCase()})`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.5, 2000);
  }
  throw new Error('no result after 3 minutes; look for it in the recent predictions list later');
}

// ---- result ----
const label = (emotion) => (emotion === 'ps' ? 'pleasant surprise' : emotion.replaceAll('_', ' '));

function render(prediction) {
  $('result').hidden = false;
  $('result-emotion').textContent = label(prediction.emotion);
  $('result-emotion').style.color = COLORS[prediction.emotion] ?? '';
  // lowConfidence: the calibrated confidence is below the model's threshold (more likely wrong than right).
  $('result-confidence').textContent = prediction.lowConfidence
    ? `${Math.round(prediction.confidence * 100)}% confident: low confidence, treat as a guess`
    : `${Math.round(prediction.confidence * 100)}% confident`;
  $('result-confidence').classList.toggle('low-confidence', prediction.lowConfidence === true);
  const chart = $('chart');
  chart.replaceChildren();
  const entries = Object.entries(prediction.probabilities ?? {}).sort((a, b) => b[1] - a[1]);
  for (const [emotion, p] of entries) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = label(emotion);
    const bar = document.createElement('div');
    bar.className = emotion === prediction.emotion ? 'bar top' : 'bar';
    bar.style.width = `${(p * 100).toFixed(1)}%`;
    bar.setAttribute('aria-hidden', 'true');
    const value = document.createElement('span');
    value.textContent = `${(p * 100).toFixed(1)}%`;
    item.append(name, bar, value);
    chart.append(item);
  }
  const segments = prediction.segments ?? [];
  $('timeline-box').hidden = segments.length < 2;
  const timeline = $('timeline');
  timeline.replaceChildren();
  // Placed on the clip's own time axis, so pauses between utterances show as gaps. Windows overlap (3 s
  // every 1.5 s): each is drawn from halfway into its overlap with the one before to halfway into the
  // one after, so the blocks tile the time instead of covering each other.
  const total = Math.max(prediction.durationSec ?? 0, segments.at(-1)?.endSec ?? 0) || 1;
  segments.forEach((s, i) => {
    const before = segments[i - 1];
    const after = segments[i + 1];
    const from = before && before.endSec > s.startSec ? (s.startSec + before.endSec) / 2 : s.startSec;
    const to = after && after.startSec < s.endSec ? (s.endSec + after.startSec) / 2 : s.endSec;
    const block = document.createElement('li');
    block.style.left = `${(from / total) * 100}%`;
    block.style.width = `${((to - from) / total) * 100}%`;
    block.style.background = COLORS[s.emotion] ?? '#6b7280';
    block.classList.toggle('low-confidence', s.lowConfidence === true);
    block.textContent = s.lowConfidence ? `${label(s.emotion)}?` : label(s.emotion);
    block.title = `${s.startSec.toFixed(1)}–${s.endSec.toFixed(1)} s: ${label(s.emotion)} (${Math.round(s.confidence * 100)}%${s.lowConfidence ? ', low confidence' : ''})`;
    block.setAttribute('aria-label', block.title);
    timeline.append(block);
  });
  $('result-meta').textContent =
    `${prediction.fileName} · ${prediction.durationSec?.toFixed(2) ?? '?'} s · model ${prediction.modelVersion ?? '?'}`;
}

// ---- recent predictions ----
async function refreshRecent() {
  if (!apiKey()) return;
  try {
    const { items } = await api('/predictions?limit=10');
    const rows = items.map((p) => {
      const row = document.createElement('tr');
      row.tabIndex = 0;
      for (const text of [
        new Date(p.createdAt).toLocaleString(),
        p.fileName,
        p.source,
        p.status,
        p.emotion ? `${label(p.emotion)} (${Math.round(p.confidence * 100)}%)` : (p.error?.code ?? ''),
      ]) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      // The row replaces what the page showed: an earlier message or another file's result.
      const open = () => {
        showMessage('');
        if (p.status === 'SUCCEEDED') return render(p);
        $('result').hidden = true;
        showMessage(
          p.error ? `${p.fileName}: ${p.error.code} — ${p.error.message}` : `${p.fileName}: ${p.status}`,
        );
      };
      row.addEventListener('click', open);
      row.addEventListener('keydown', (event) => event.key === 'Enter' && open());
      return row;
    });
    $('recent').replaceChildren(...rows);
  } catch (error) {
    showMessage(explain(error));
  }
}
$('refresh').addEventListener('click', refreshRecent);
refreshRecent();
// Every listener is attached: a page's load event can come before this module's top-level await ends.
document.body.dataset.ready = '';
