// The timeline of a recording: one block per segment (a window of up to 3 s of speech). A short recording's
// few labelled blocks read well as they are. A long one (minutes: dozens of blocks a few pixels wide) gets a
// time axis and a colour legend, and keeps only the labels that fit. Every timeline lists its segments in a
// table too: the blocks' tooltips, where their times were, are out of reach of keyboards and touch screens.
import { colorOf, label, percent } from './format.js';

/** Above this many segments a timeline is long: its blocks are too narrow to say what they are. */
const LONG_TIMELINE_SEGMENTS = 12;
/** Axis steps in seconds: the smallest that leaves at most MAX_TICKS intervals is used. */
const TICK_STEPS_SEC = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
const MAX_TICKS = 6;

const $ = (id) => document.getElementById(id);
const element = (tag, text, className) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
};
/** m:ss, or m:ss.s with `decimals` 1 (rounded first: 59.96 s is 1:00.0, not 0:60.0). */
const clock = (sec, decimals = 0) => {
  const rounded = Number(sec.toFixed(decimals));
  const seconds = (rounded % 60).toFixed(decimals);
  return `${Math.floor(rounded / 60)}:${seconds.padStart(decimals ? 4 : 2, '0')}`;
};
const segmentLabel = (s) => (s.lowConfidence ? `${label(s.emotion)}?` : label(s.emotion));
const confidenceText = (s) => `${percent(s.confidence)}${s.lowConfidence ? ', low confidence' : ''}`;

export function renderTimeline(prediction) {
  const segments = prediction.segments ?? [];
  $('timeline-box').hidden = segments.length < 2;
  const total = Math.max(prediction.durationSec ?? 0, segments.at(-1)?.endSec ?? 0) || 1;
  const long = segments.length > LONG_TIMELINE_SEGMENTS;
  drawBlocks(segments, total, long);
  drawAxis(long ? total : 0);
  drawLegend(long ? segments : []);
  listSegments(segments);
}

// Placed on the clip's own time axis, so pauses between utterances show as gaps. Windows overlap (3 s
// every 1.5 s): each is drawn from halfway into its overlap with the one before to halfway into the
// one after, so the blocks tile the time instead of covering each other.
function drawBlocks(segments, total, long) {
  const timeline = $('timeline');
  // A long timeline's dozens of slivers say to a screen reader what the table below says in order.
  // An empty aria-hidden means "undefined" to assistive technology, not hidden: say true or false.
  timeline.setAttribute('aria-hidden', String(long));
  timeline.replaceChildren(
    ...segments.map((s, i) => {
      const before = segments[i - 1];
      const after = segments[i + 1];
      const from = before && before.endSec > s.startSec ? (s.startSec + before.endSec) / 2 : s.startSec;
      const to = after && after.startSec < s.endSec ? (s.endSec + after.startSec) / 2 : s.endSec;
      const block = element('li', segmentLabel(s), s.lowConfidence ? 'low-confidence' : '');
      block.style.left = `${(from / total) * 100}%`;
      block.style.width = `${((to - from) / total) * 100}%`;
      block.style.background = colorOf(s.emotion);
      block.title = `${s.startSec.toFixed(1)}–${s.endSec.toFixed(1)} s: ${label(s.emotion)} (${confidenceText(s)})`;
      block.setAttribute('aria-label', block.title);
      return block;
    }),
  );
  fitLabels();
}

// A label is shown only where it fits whole: cut to "ang" or "sa" it says nothing. Measured again
// whenever the timeline's width changes (a turned phone, a resized window).
function fitLabels() {
  const blocks = [...$('timeline').children];
  for (const block of blocks) block.classList.remove('unlabelled');
  const cut = blocks.filter((block) => block.scrollWidth > block.clientWidth);
  for (const block of cut) block.classList.add('unlabelled');
}
new ResizeObserver(fitLabels).observe($('timeline'));

function drawAxis(total) {
  const axis = $('timeline-axis');
  axis.hidden = total === 0;
  const step = TICK_STEPS_SEC.find((s) => total / s <= MAX_TICKS) ?? TICK_STEPS_SEC.at(-1);
  const ticks = [];
  // No tick just before the end, whose own label would overlap it.
  for (let t = 0; total > 0 && t < total - step * 0.4; t += step) ticks.push(t);
  if (total > 0) ticks.push(total);
  axis.replaceChildren(
    ...ticks.map((t) => {
      const tick = element('span', clock(t));
      tick.style.left = `${(t / total) * 100}%`;
      return tick;
    }),
  );
}

function drawLegend(segments) {
  const legend = $('timeline-legend');
  const emotions = [...new Set(segments.map((s) => s.emotion))].sort();
  legend.hidden = emotions.length === 0;
  const items = emotions.map((emotion) => legendItem(colorOf(emotion), label(emotion)));
  if (segments.some((s) => s.lowConfidence)) items.push(legendItem(colorOf(), 'faded: low confidence', true));
  legend.replaceChildren(...items);
}

function legendItem(color, text, faded = false) {
  const swatch = element('span', undefined, faded ? 'swatch low-confidence' : 'swatch');
  swatch.style.background = color;
  const item = element('li');
  item.append(swatch, text);
  return item;
}

function listSegments(segments) {
  $('segment-count').textContent = String(segments.length);
  $('segments').replaceChildren(
    ...segments.map((s) => {
      const row = element('tr');
      const emotion = element('td');
      const swatch = element('span', undefined, 'swatch');
      swatch.style.background = colorOf(s.emotion);
      emotion.append(swatch, label(s.emotion));
      row.append(
        element('td', `${clock(s.startSec, 1)}–${clock(s.endSec, 1)}`),
        emotion,
        element('td', confidenceText(s), s.lowConfidence ? 'low-confidence' : ''),
      );
      return row;
    }),
  );
}
