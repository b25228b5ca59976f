// How the page writes emotions, probabilities and sizes (app.js and timeline.js).

export const COLORS = {
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
export const colorOf = (emotion) => COLORS[emotion] ?? '#6b7280';
export const label = (emotion) => (emotion === 'ps' ? 'pleasant surprise' : emotion.replaceAll('_', ' '));

/**
 * A probability in percent, rounded to `decimals`, that never claims more than the model said: rounding
 * would turn 0.9994 into "100%" (certain) and 0.002 into "0%" (impossible); those are "99.9%" and "<1%".
 */
export function percent(p, decimals = 0) {
  const text = (p * 100).toFixed(decimals);
  if (Number(text) === 100 && p < 1) {
    const finer = 10 ** (decimals + 1);
    return `${(Math.floor(p * 100 * finer) / finer).toFixed(decimals + 1)}%`;
  }
  if (Number(text) === 0 && p > 0) return `<${1 / 10 ** decimals}%`;
  return `${text}%`;
}

/** 600 → "10 minutes", 90 → "90 s". */
export const duration = (sec) => (sec % 60 === 0 ? `${sec / 60} minute${sec === 60 ? '' : 's'}` : `${sec} s`);
export const megabytes = (bytes) => `${Math.round((bytes / 1048576) * 10) / 10} MB`;
/** A file's size as a person reads it: a 29-byte file is "29 bytes", not "0 KB". */
export const fileSize = (bytes) =>
  bytes < 1024
    ? `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`
    : bytes < 1048576
      ? `${Math.round(bytes / 1024)} KB`
      : megabytes(bytes);
