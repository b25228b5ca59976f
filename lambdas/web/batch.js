// The list of files chosen several at once: one table row per file, with its state in data-state (ready,
// queued, sending, analysing, done, failed, refused) and in words. app.js runs the files; this draws them.
import { fileSize } from './format.js';

/** States a file's run ends in. */
const FINISHED = new Set(['done', 'failed', 'refused']);

const element = (tag, text) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  return node;
};

/**
 * Runs at most `max` tasks at once; later ones wait their turn in the order they came, and `onWait` is
 * called when one has to. A batch of 20 files must not open 20 uploads: they would share the line and
 * every one of them would be slow.
 */
export function limiter(max) {
  let active = 0;
  const waiting = [];
  return async (task, onWait) => {
    if (active < max) active += 1;
    else {
      onWait?.();
      // A finished task hands its place straight to the next one: `active` stays counted.
      await new Promise((resolve) => waiting.push(resolve));
    }
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}

/** A row for one file: its name, size, status and result (the emotion, or why there is none). */
export function fileRow(name, size) {
  const row = element('tr');
  row.dataset.state = 'ready';
  row.append(element('td', name), element('td', fileSize(size)), element('td', 'Ready'), element('td'));
  return row;
}

export const stateOf = (row) => row.dataset.state;
export const isFinished = (row) => FINISHED.has(stateOf(row));

export function setRowState(row, state, status) {
  row.dataset.state = state;
  setRowStatus(row, status);
}
export const setRowStatus = (row, status) => {
  row.cells[2].textContent = status;
};
export function setRowResult(row, text, warn = false) {
  row.cells[3].textContent = text;
  row.cells[3].classList.toggle('low-confidence', warn);
}

// As in the recent predictions: the name becomes a button, which keyboards and screen readers know how to
// press, and a click anywhere on the row does the same for a mouse.
export function makeRowOpenable(row, open) {
  const button = element('button', row.cells[0].textContent);
  button.type = 'button';
  button.className = 'open';
  row.cells[0].replaceChildren(button);
  row.addEventListener('click', open);
}
