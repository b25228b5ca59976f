import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import wavefile from 'wavefile';
import { decodeAudio } from '../lambdas/core/audio/decode.ts';
import { resample } from '../lambdas/core/audio/resample.ts';
import { badFixture, FIXTURES_DIR, tessClip } from './helpers/fixtures.ts';
import { type LocalStackProcess, spawnLocalStack } from './helpers/local-stack-process.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUTPUT_DIR = join(ROOT, 'test-output');
/** GET /predictions/{id}: what the page polls for a result. */
const PREDICTION_URL = /\/predictions\/[0-9a-f-]+$/;

/** TESS sentences of the given emotions, `pauseSec` apart, as one 16-bit WAV file. */
async function sentencesWav(emotions: string[], pauseSec: number): Promise<Buffer> {
  const parts = await Promise.all(emotions.map((e) => decodeAudio(tessClip(e).bytes)));
  const rate = parts[0]!.sampleRate;
  const pause = new Float32Array(Math.round(rate * pauseSec));
  const joined = parts.flatMap((p) => [
    p.sampleRate === rate ? p.samples : resample(p.samples, p.sampleRate, rate),
    pause,
  ]);
  const samples = new Int16Array(joined.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const part of joined) {
    for (let i = 0; i < part.length; i++) samples[offset + i] = Math.round(part[i]! * 32_767);
    offset += part.length;
  }
  const wav = new wavefile.WaveFile();
  wav.fromScratch(1, rate, '16', samples);
  return Buffer.from(wav.toBuffer());
}

interface FileToDrop {
  name: string;
  mimeType: string;
  buffer: Buffer;
}
/** The browser's DataTransfer, as far as dropFiles uses it (the test's types know only Node's globals). */
interface DataTransferLike {
  items: { add(file: File): unknown };
}

/** Drops files on the page's drop zone, as a person drags them there from a file manager. */
async function dropFiles(page: Page, files: FileToDrop[]): Promise<void> {
  const encoded = files.map(({ name, mimeType, buffer }) => ({
    name,
    mimeType,
    base64: buffer.toString('base64'),
  }));
  const dataTransfer = await page.evaluateHandle((list) => {
    const transfer = new (
      globalThis as unknown as { DataTransfer: new () => DataTransferLike }
    ).DataTransfer();
    for (const { name, mimeType, base64 } of list) {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], name, { type: mimeType }));
    }
    return transfer;
  }, encoded);
  await page.locator('#drop-zone').dispatchEvent('drop', { dataTransfer });
}

/** Whether leaving the page now would make the browser ask first (app.js's beforeunload listener). */
const warnsBeforeLeaving = (page: Page) =>
  page.evaluate(() => {
    const event = new Event('beforeunload', { cancelable: true });
    (globalThis as unknown as EventTarget).dispatchEvent(event);
    return event.defaultPrevented;
  });

/** A finished prediction whose parts name different emotions, its overall confidence low (the API's answer). */
const mixedLowConfidence = (id: string) => ({
  id,
  status: 'SUCCEEDED',
  source: 'api',
  fileName: 'mixed.flac',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:05.000Z',
  emotion: 'angry',
  confidence: 0.41,
  lowConfidence: true,
  probabilities: { angry: 0.41, sad: 0.39, happy: 0.2 },
  durationSec: 6,
  modelVersion: 'test',
  segments: [
    { startSec: 0, endSec: 3, emotion: 'angry', confidence: 0.9 },
    { startSec: 3, endSec: 6, emotion: 'sad', confidence: 0.85 },
  ],
});

describe.runIf(existsSync(CHROMIUM))('web page in headless Chromium against the local stack', () => {
  let dataDir: string;
  let profileDir: string;
  let stack: LocalStackProcess;
  let browser: BrowserContext;

  /**
   * A fresh page of the app, once app.js has attached its listeners (after it read config.json);
   * `initScript` runs in it before the page's own. With `clock`, the page's timers run on Playwright's
   * clock (in real time until a test fast-forwards it; installed for the whole browser context, so
   * those tests come last).
   */
  async function openPage(initScript?: string, { clock = false } = {}) {
    const page = await browser.newPage();
    if (clock) await page.clock.install();
    if (initScript) await page.addInitScript(initScript);
    await page.goto(stack.webUrl);
    await page.locator('body[data-ready]').waitFor({ state: 'attached' });
    return page;
  }

  /** The API key entered and saved, as a user does first. */
  async function enterKey(page: Page) {
    await page.getByLabel('x-api-key').fill(stack.apiKey);
    await page.getByRole('button', { name: 'Save' }).click();
  }

  /** 601 s of 8-bit silence at 8 kHz (4.8 MB: under the size limit, over the 600 s one). */
  function longWav(): Buffer {
    const wav = new wavefile.WaveFile();
    wav.fromScratch(1, 8000, '8', new Uint8Array(8000 * 601).fill(128));
    return Buffer.from(wav.toBuffer());
  }

  /**
   * Drops a batch of a clip the API accepts and a file over the duration limit, with `uploadRequests` the
   * files the page asked to upload; `row` finds a file's row.
   */
  async function dropClipAndLongFile(page: Page) {
    const angry = tessClip('angry');
    const uploadRequests: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/uploads'))
        uploadRequests.push(JSON.parse(request.postData() ?? '{}').fileName);
    });
    await dropFiles(page, [
      { name: angry.fileName, mimeType: 'audio/flac', buffer: angry.bytes },
      { name: 'long.wav', mimeType: 'audio/wav', buffer: longWav() },
    ]);
    const row = (name: string) => page.locator('#batch-rows tr', { hasText: name });
    return { angry, uploadRequests, row };
  }

  /**
   * Holds the page's uploads to S3 (PUTs) under way until `releaseAll`, which also lets every later one
   * through; `held` counts the ones under way.
   */
  async function holdUploads(page: Page) {
    const held: (() => void)[] = [];
    let released = false;
    await page.route(`${stack.s3Endpoint}/**`, (route) => {
      if (released || route.request().method() !== 'PUT') return route.continue();
      held.push(() => route.continue());
    });
    const releaseAll = () => {
      released = true;
      for (const release of held) release();
    };
    return { held, releaseAll };
  }

  /**
   * A batch of two files (angry, sad) whose first two requests of `method` to `url` are never answered
   * (the page's two upload places taken), once both are under way.
   */
  async function batchOfTwoHanging(page: Page, url: string | RegExp, method: 'PUT' | 'POST') {
    let hung = 0;
    await page.route(url, (route) => {
      if (route.request().method() !== method || hung === 2) return route.continue();
      hung += 1;
    });
    await page.locator('#file-input').setInputFiles([tessClip('angry').path, tessClip('sad').path]);
    await page.getByRole('button', { name: 'Analyse 2 files' }).click();
    await expect.poll(() => hung).toBe(2);
  }

  /** A third file (happy) analysed on its own, behind the batch. */
  async function analyseOneBehind(page: Page) {
    await page.locator('#file-input').setInputFiles(tessClip('happy').path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ser-browser-'));
    profileDir = await mkdtemp(join(tmpdir(), 'ser-chromium-profile-'));
    // The fake microphone plays a held-out TESS clip (Chromium wants a PCM WAV file for it).
    const microphoneWav = join(dataDir, 'microphone.wav');
    const speech = await decodeAudio(readFileSync(join(FIXTURES_DIR, 'tess-heldout', 'OAF_bar_angry.flac')), {
      outputRate: 48_000,
    });
    const wav = new wavefile.WaveFile();
    wav.fromScratch(1, 48_000, '32f', speech.samples);
    wav.toBitDepth('16');
    await writeFile(microphoneWav, wav.toBuffer());
    [stack, browser] = await Promise.all([
      spawnLocalStack(dataDir),
      // Debian's Chromium, never a downloaded browser; a fresh profile and no background traffic.
      chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1000, height: 1400 },
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          // A fake microphone playing a TESS clip once, without a permission prompt, for the recording test.
          '--use-fake-device-for-media-stream',
          '--use-fake-ui-for-media-stream',
          `--use-file-for-fake-audio-capture=${microphoneWav}%noloop`,
        ],
      }),
    ]);
    await mkdir(OUTPUT_DIR, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(profileDir, { recursive: true, force: true });
  });

  it('takes the key, uploads a clip and shows the emotion with its chart', async () => {
    // Prepare
    const clip = tessClip('angry');
    const page = await openPage();

    // Act
    await enterKey(page);
    await page.locator('#file-input').setInputFiles(clip.path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#result').waitFor({ state: 'visible' });

    // Assess
    expect(await page.getByTestId('emotion').textContent()).toBe('angry');
    expect(await page.locator('#chart li').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#upload-progress').getAttribute('value')).toBe('100');
    expect(await page.locator('#recent tr').first().textContent()).toContain(clip.fileName);
    expect(await page.evaluate('localStorage.getItem("ser.apiKey")')).toBe(stack.apiKey);
    const screenshot = join(OUTPUT_DIR, 'browser-result.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    // The README's screenshot is refreshed on request, so a test run never dirties the tree.
    const readmeShot = join(ROOT, 'docs', 'screenshot.png');
    if (process.env.SER_UPDATE_SCREENSHOT === '1' || !existsSync(readmeShot))
      await copyFile(screenshot, readmeShot);
    await page.close();
  });

  it.each([
    ['with pauses between the sentences', 0.5],
    ['of one continuous stretch of speech (overlapping windows)', 0],
  ])('draws the timeline of segments for a longer recording %s', async (_name, pauseSec) => {
    // Prepare: four TESS sentences of different emotions in one 16-bit WAV.
    const wav = await sentencesWav(['angry', 'sad', 'happy', 'neutral'], pauseSec);
    const page = await openPage();

    // Act
    await page
      .locator('#file-input')
      .setInputFiles({ name: 'four-sentences.wav', mimeType: 'audio/wav', buffer: wav });
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#timeline-box').waitFor({ state: 'visible' });

    // Assess
    expect(await page.locator('#timeline li').count()).toBeGreaterThanOrEqual(2);
    // Overlapping windows are drawn side by side: no block covers the next one's label.
    const spans = await page
      .locator('#timeline li')
      .evaluateAll((items) =>
        items.map((li) => [li.getBoundingClientRect().left, li.getBoundingClientRect().right]),
      );
    for (let i = 1; i < spans.length; i++)
      expect(spans[i]![0]!).toBeGreaterThanOrEqual(spans[i - 1]![1]! - 1);
    // A short timeline stays as it was: labelled blocks, no axis or legend.
    expect(await page.locator('#timeline li.unlabelled').count()).toBe(0);
    expect(await page.locator('#timeline-axis').isHidden()).toBe(true);
    expect(await page.locator('#timeline-legend').isHidden()).toBe(true);
    await page.screenshot({ path: join(OUTPUT_DIR, `browser-timeline-${pauseSec}.png`), fullPage: true });
    await page.close();
  });

  it('makes a long timeline readable: axis, legend, only whole labels, and every segment in a table', async () => {
    // Prepare: sixteen sentences a second apart, one segment each (a long timeline has more than 12).
    const emotions = ['angry', 'sad', 'happy', 'neutral'];
    const wav = await sentencesWav([...emotions, ...emotions, ...emotions, ...emotions], 1);
    const page = await openPage();
    await enterKey(page);

    // Act
    await page
      .locator('#file-input')
      .setInputFiles({ name: 'sixteen-sentences.wav', mimeType: 'audio/wav', buffer: wav });
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#timeline-box').waitFor({ state: 'visible' });
    await page.getByText(/^All \d+ segments/).click();

    // Assess
    const blocks = await page.locator('#timeline li').count();
    expect(blocks).toBeGreaterThan(12);
    expect(await page.locator('#segments tr').count()).toBe(blocks);
    expect(await page.locator('#segments tr').first().textContent()).toMatch(/^0:0\d\.\d–0:0\d\.\d/);
    expect(await page.locator('#timeline-axis span').first().textContent()).toBe('0:00');
    expect(await page.locator('#timeline-axis span').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#timeline-legend').textContent()).toContain('angry');
    const cutLabels = await page
      .locator('#timeline li:not(.unlabelled)')
      .evaluateAll((items) => items.filter((li) => li.scrollWidth > li.clientWidth).length);
    expect(cutLabels).toBe(0);
    // Four clear emotions average to a low overall confidence: the page says why instead of "a guess".
    expect(await page.locator('#result-note').textContent()).toContain('The recording mixes');
    await page.screenshot({ path: join(OUTPUT_DIR, 'browser-timeline-long.png'), fullPage: true });
    await page.close();
  });

  it("shows a run's result only under its own file: choosing another file mid-run leaves it unseen", async () => {
    // Prepare: the first file's polls are held until the second file is chosen.
    const [first, second] = [tessClip('angry'), tessClip('sad')];
    const page = await openPage();
    await enterKey(page);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route(PREDICTION_URL, async (route) => {
      await held;
      await route.continue();
    });

    // Act
    await page.locator('#file-input').setInputFiles(first.path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.getByText('Uploaded. Analysing…').waitFor();
    await page.locator('#file-input').setInputFiles(second.path);
    const note = await page.locator('#status').textContent();
    release();
    // The first run has ended when the list it refreshes at its end shows its result.
    await page.locator('#recent tr', { hasText: first.fileName }).filter({ hasText: 'SUCCEEDED' }).waitFor();

    // Assess
    expect(note).toContain(`Still analysing ${first.fileName}`);
    expect(await page.locator('#selected-name').textContent()).toBe(second.fileName);
    expect(await page.locator('#result').isHidden()).toBe(true);
    expect(await page.locator('#progress-box').isHidden()).toBe(true);
    expect(await page.getByRole('button', { name: 'Analyse emotion' }).isEnabled()).toBe(true);
    await page.close();
  });

  it('asks again when a poll fails for a passing reason (a 503 from API Gateway) and shows the result', async () => {
    // Prepare: the first poll is answered as API Gateway answers an overloaded integration.
    const clip = tessClip('angry');
    const page = await openPage();
    await enterKey(page);
    let polls = 0;
    await page.route(PREDICTION_URL, (route) =>
      polls++ === 0
        ? route.fulfill({
            status: 503,
            contentType: 'application/json',
            body: '{"message":"Service Unavailable"}',
          })
        : route.continue(),
    );

    // Act
    await page.locator('#file-input').setInputFiles(clip.path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#result:not([hidden]), #message:not([hidden])').first().waitFor();

    // Assess
    expect(await page.locator('#message').textContent()).toBe('');
    expect(await page.getByTestId('emotion').textContent()).toBe('angry');
    expect(polls).toBeGreaterThanOrEqual(2);
    await page.close();
  });

  it('analyses several dropped files as a batch: a row each, a refused or failed file stops no other; a second batch tallies its own files', async () => {
    // Prepare: two real clips, audio the API accepts but cannot decode, and a file the page refuses itself.
    const [angry, sad] = [tessClip('angry'), tessClip('sad')];
    const html = badFixture('html.mp3');
    const page = await openPage();
    await enterKey(page);
    const uploadRequests: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/uploads'))
        uploadRequests.push(request.postData() ?? '');
    });
    const row = (name: string) => page.locator('#batch-rows tr', { hasText: name });

    // Act
    await dropFiles(page, [
      { name: angry.fileName, mimeType: 'audio/flac', buffer: angry.bytes },
      { name: sad.fileName, mimeType: 'audio/flac', buffer: sad.bytes },
      { name: html.fileName, mimeType: 'audio/mpeg', buffer: html.bytes },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hi') },
    ]);
    const refusedBeforeAnalysing = await row('notes.txt').getAttribute('data-state');
    await page.getByRole('button', { name: 'Analyse 3 files' }).click();
    await page.locator('#batch-status', { hasText: 'All 3 files finished' }).waitFor();
    await page.locator('#batch-rows').getByRole('button', { name: sad.fileName }).press('Enter');

    // Assess: each row ended as its file should, and the done one opened shows the full result.
    expect(refusedBeforeAnalysing).toBe('refused');
    expect(await row(angry.fileName).getAttribute('data-state')).toBe('done');
    expect(await row(angry.fileName).locator('td').last().textContent()).toMatch(
      /^angry, \d+(\.\d)?% confident/,
    );
    expect(await row(sad.fileName).locator('td').last().textContent()).toMatch(/^sad, /);
    expect(await row(html.fileName).getAttribute('data-state')).toBe('failed');
    expect(await row(html.fileName).locator('td').last().textContent()).toContain('UNSUPPORTED_FORMAT');
    expect(await row('notes.txt').locator('td').last().textContent()).toContain('not a supported file');
    expect(uploadRequests).toHaveLength(3);
    expect(uploadRequests.join()).not.toContain('notes.txt');
    expect(await page.locator('#selected').isHidden()).toBe(true);
    expect(await page.getByTestId('emotion').textContent()).toBe('sad');
    expect(await page.locator('#chart li').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#result-meta').textContent()).toContain(sad.fileName);
    expect(await page.locator('#result-heading').evaluate((h) => h === h.ownerDocument.activeElement)).toBe(
      true,
    );
    await page.screenshot({ path: join(OUTPUT_DIR, 'browser-batch.png'), fullPage: true });

    // Act + assess: a second batch, and two files added while it runs (still ready): the screen reader
    // hears this run's tally, not one over every row ever listed.
    const [happy, neutral] = [tessClip('happy'), tessClip('neutral')];
    const [fear, disgust] = [tessClip('fear'), tessClip('disgust')];
    await dropFiles(page, [
      { name: happy.fileName, mimeType: 'audio/flac', buffer: happy.bytes },
      { name: neutral.fileName, mimeType: 'audio/flac', buffer: neutral.bytes },
    ]);
    await page.getByRole('button', { name: 'Analyse 2 files' }).click();
    await dropFiles(page, [
      { name: fear.fileName, mimeType: 'audio/flac', buffer: fear.bytes },
      { name: disgust.fileName, mimeType: 'audio/flac', buffer: disgust.bytes },
    ]);
    await expect
      .poll(() => page.locator('#batch-rows tr[data-state="done"]').count(), { timeout: 30_000 })
      .toBe(4);

    expect(await page.locator('#batch-status').textContent()).toMatch(/^All 2 files finished\. /);
    expect(await page.locator('#batch-rows tr[data-state="ready"]').count()).toBe(2);
    await page.close();
  });

  it('sends a batch two uploads at a time and asks before leaving until every file is sent', async () => {
    // Prepare: the uploads to S3 are held until released, so the ones under way can be counted.
    const clips = ['angry', 'sad', 'happy', 'neutral'].map((emotion) => tessClip(emotion));
    const page = await openPage();
    await enterKey(page);
    const { held, releaseAll } = await holdUploads(page);

    // Act
    await page.locator('#file-input').setInputFiles(clips.map((clip) => clip.path));
    await page.getByRole('button', { name: 'Analyse 4 files' }).click();
    await expect.poll(() => held.length).toBe(2);
    await page.waitForTimeout(300);
    const heldAfterAPause = held.length;
    const queued = await page.locator('#batch-rows tr[data-state="queued"]').count();
    const warnedWhileSending = await warnsBeforeLeaving(page);
    releaseAll();
    await page.locator('#batch-status', { hasText: 'All 4 files finished' }).waitFor();

    // Assess
    expect(heldAfterAPause).toBe(2);
    expect(queued).toBe(2);
    expect(warnedWhileSending).toBe(true);
    expect(await page.locator('#batch-rows tr[data-state="done"]').count()).toBe(4);
    expect(await warnsBeforeLeaving(page)).toBe(false);
    await page.close();
  });

  it('a file analysed on its own while a batch uploads waits its turn: still two uploads at a time, and the status says so', async () => {
    // Prepare: a batch of two whose uploads to S3 are held under way
    const [first, second, single] = [tessClip('angry'), tessClip('sad'), tessClip('happy')];
    const page = await openPage();
    await enterKey(page);
    const { held, releaseAll } = await holdUploads(page);
    await page.locator('#file-input').setInputFiles([first.path, second.path]);
    await page.getByRole('button', { name: 'Analyse 2 files' }).click();
    await expect.poll(() => held.length).toBe(2);

    // Act: one file chosen and analysed meanwhile
    await page.locator('#file-input').setInputFiles(single.path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#status', { hasText: /Waiting to upload|Uploading/ }).waitFor();
    await page.waitForTimeout(300);
    const heldAfterAPause = held.length;
    const status = await page.locator('#status').textContent();
    releaseAll();
    await page.locator('#result:not([hidden]), #message:not([hidden])').first().waitFor();
    await page.locator('#batch-status', { hasText: 'All 2 files finished' }).waitFor();

    // Assess
    expect(heldAfterAPause).toBe(2);
    expect(status).toBe('Waiting to upload: the page sends 2 files at a time.');
    expect(await page.locator('#message').textContent()).toBe('');
    expect(await page.getByTestId('emotion').textContent()).toBe('happy');
    expect(await warnsBeforeLeaving(page)).toBe(false);
    await page.close();
  });

  it('a file analysed again while it waits its turn shows no old progress; chosen away from, it is said to be waiting, not analysing', async () => {
    // Prepare: two files listed (not started), and one analysed on its own to the end (its bar at 100 %)
    const [first, second] = [tessClip('angry'), tessClip('sad')];
    const [single, other] = [tessClip('happy'), tessClip('neutral')];
    const page = await openPage();
    await enterKey(page);
    await page.locator('#file-input').setInputFiles([first.path, second.path]);
    await page.locator('#file-input').setInputFiles(single.path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#status', { hasText: 'Done.' }).waitFor();
    const barAfterFirstRun = await page.locator('#progress-text').textContent();
    // The listed files' uploads are held under way: they take both places.
    const { held, releaseAll } = await holdUploads(page);
    await page.getByRole('button', { name: 'Analyse 2 files' }).click();
    await expect.poll(() => held.length).toBe(2);

    // Act: the same file analysed again (it waits its turn), then another file chosen
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#status', { hasText: 'Waiting to upload' }).waitFor();
    const barWhileWaiting = await page.locator('#progress-box').isVisible();
    await page.locator('#file-input').setInputFiles(other.path);
    const statusAfterChoosing = await page.locator('#status').textContent();
    const warnedWhileWaiting = await warnsBeforeLeaving(page);
    releaseAll();
    await page.locator('#batch-status', { hasText: 'All 2 files finished' }).waitFor();
    // The waiting run, once sent and analysed, leaves nothing to say about the background.
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 30_000 }).toBe('');

    // Assess
    expect(barAfterFirstRun).toBe('100%');
    expect(barWhileWaiting).toBe(false);
    expect(statusAfterChoosing).toBe(
      `${single.fileName} is still waiting to upload; it will be sent and its result will appear under Recent predictions.`,
    );
    expect(warnedWhileWaiting).toBe(true);
    expect(await warnsBeforeLeaving(page)).toBe(false);
    await page.close();
  });

  it('a hung upload is stopped after its timeout and fails its row, freeing its place: a file waiting behind two starts', async () => {
    // Prepare: the page's upload timeouts recorded, and the first two (the batch's) cut to 1 s, since
    // waiting minutes is not a test; those two uploads hang (held, never released), later ones go through.
    const page = await openPage(`
      window.uploadTimeouts = [];
      const timeout = Object.getOwnPropertyDescriptor(XMLHttpRequest.prototype, 'timeout');
      Object.defineProperty(XMLHttpRequest.prototype, 'timeout', {
        configurable: true,
        get() { return timeout.get.call(this); },
        set(ms) { window.uploadTimeouts.push(ms); timeout.set.call(this, window.uploadTimeouts.length <= 2 ? 1000 : ms); },
      });
    `);
    await enterKey(page);
    // never answered: the browser gives up on them at its timeout
    await batchOfTwoHanging(page, `${stack.s3Endpoint}/**`, 'PUT');

    // Act: one file analysed behind the two hung uploads
    await analyseOneBehind(page);
    await page.locator('#result:not([hidden]), #message:not([hidden])').first().waitFor();

    // Assess: both hung uploads failed in their rows, saying why; the waiting file went through
    const timeouts = await page.evaluate(
      () => (globalThis as unknown as { uploadTimeouts: number[] }).uploadTimeouts,
    );
    expect(await page.locator('#batch-rows tr[data-state="failed"]').count()).toBe(2);
    expect(await page.locator('#batch-rows tr td:nth-child(4)').allTextContents()).toEqual([
      expect.stringMatching(/the upload did not finish in 5 minutes and was stopped/),
      expect.stringMatching(/the upload did not finish in 5 minutes and was stopped/),
    ]);
    expect(await page.locator('#message').textContent()).toBe('');
    expect(await page.getByTestId('emotion').textContent()).toBe('happy');
    // What the page asked for, before the test cut it: minutes, not seconds, for a small file
    expect(timeouts).toEqual([5 * 60_000, 5 * 60_000, 5 * 60_000]);
    expect(await warnsBeforeLeaving(page)).toBe(false);
    await page.close();
  });

  it('records from the microphone and uploads what MediaRecorder wrote (WebM/Opus), no WAV conversion', async () => {
    // Prepare
    const page = await openPage();
    await enterKey(page);
    const uploads: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'PUT') uploads.push(request.headers()['content-type'] ?? '');
    });

    // Act: record the whole clip (the fake microphone plays it once from the start), then analyse.
    await page.getByRole('button', { name: /Record from microphone/ }).click();
    await page.getByText('Recording…').waitFor();
    await page.waitForTimeout(3500);
    await page.getByRole('button', { name: /Stop recording/ }).click();
    await page
      .locator('#selected-name')
      .filter({ hasText: /^recording-.*\.webm$/ })
      .waitFor();
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#result:not([hidden]), #message:not([hidden])').first().waitFor();

    // Assess: the WebM itself was uploaded and decoded, and the clip's emotion came back.
    expect(uploads).toEqual(['audio/webm']);
    expect(await page.locator('#message').textContent()).toBe('');
    expect(await page.getByTestId('emotion').textContent()).toBe('angry');
    // The list is refreshed after the result is shown: until then it may still show the earlier tests' uploads.
    await expect
      .poll(() => page.locator('#recent tr').first().textContent())
      .toMatch(/recording-.*\.webm.*SUCCEEDED/);
    await page.close();
  });

  it('explains a rejected file and a refused key, and forgets both when they are put right', async () => {
    const page = await openPage();

    // A good file, then a refused one: the refused one replaces it ("Analyse" must not send the old file).
    await page.locator('#file-input').setInputFiles(tessClip('sad').path);
    await page.locator('#selected').waitFor({ state: 'visible' });
    await page
      .locator('#file-input')
      .setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hi') });
    const rejected = await page.getByRole('alert').textContent();
    const oldFileStillSelected = await page.locator('#selected').isVisible();
    await page.getByLabel('x-api-key').fill('not-the-key');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor();
    await page.screenshot({ path: join(OUTPUT_DIR, 'browser-rejected.png') });
    // The right key: the refusal no longer holds.
    await enterKey(page);
    await page.getByRole('alert').waitFor({ state: 'hidden' });

    expect(rejected).toContain('not a supported file');
    expect(oldFileStillSelected).toBe(false);
    await page.close();
  });

  it('shows the low confidence of a recording whose parts name different emotions, on its own and in a batch row', async () => {
    // Prepare: every poll is answered with a mixed clip the API calls low in confidence overall.
    const [single, first, second] = [tessClip('angry'), tessClip('sad'), tessClip('happy')];
    const page = await openPage();
    await enterKey(page);
    await page.route(PREDICTION_URL, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify(mixedLowConfidence(route.request().url().split('/').at(-1)!)),
      }),
    );

    // Act
    await page.locator('#file-input').setInputFiles(single.path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#result').waitFor({ state: 'visible' });
    const note = page.locator('#result-note');
    const [noteText, noteClass] = [await note.textContent(), await note.getAttribute('class')];
    const headlineClass = await page.locator('#result-confidence').getAttribute('class');
    await page.locator('#file-input').setInputFiles([first.path, second.path]);
    await page.getByRole('button', { name: 'Analyse 2 files' }).click();
    await page.locator('#batch-status', { hasText: 'All 2 files finished' }).waitFor();

    // Assess: the mix is explained and the low confidence said, in words and in the warning colour.
    expect(noteText).toContain('The recording mixes angry and sad');
    expect(noteText).toContain('Low confidence');
    expect(noteClass).toContain('low-confidence');
    expect(headlineClass).toContain('low-confidence');
    const results = page.locator('#batch-rows tr td:nth-child(4)');
    expect(await results.allTextContents()).toEqual([
      'angry, 41% overall (low confidence)',
      'angry, 41% overall (low confidence)',
    ]);
    expect(await results.evaluateAll((cells) => cells.map((c) => c.className))).toEqual([
      'low-confidence',
      'low-confidence',
    ]);
    await page.close();
  });

  it('says an upload link that storage refused (403: expired, or another size) was refused, and why it may be', async () => {
    // Prepare: S3 answers the upload as it answers a presigned URL past its life.
    const page = await openPage();
    await enterKey(page);
    await page.route(`${stack.s3Endpoint}/**`, (route) =>
      route.request().method() === 'PUT'
        ? route.fulfill({
            status: 403,
            contentType: 'application/xml',
            body: '<Error><Code>AccessDenied</Code></Error>',
          })
        : route.continue(),
    );

    // Act
    await page.locator('#file-input').setInputFiles(tessClip('angry').path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await page.locator('#message:not([hidden])').waitFor();

    // Assess
    expect(await page.locator('#message').textContent()).toBe(
      'Error: the upload link was refused: it expired, or the file changed size since it was chosen (HTTP 403): try again',
    );
    await page.close();
  });

  it('refuses, before sending, a file the browser decodes as longer than the API analyses', async () => {
    // Prepare: a file over the duration limit (longWav).
    const page = await openPage();
    await enterKey(page);
    const uploadRequests: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/uploads'))
        uploadRequests.push(request.url());
    });

    // Act
    await page
      .locator('#file-input')
      .setInputFiles({ name: 'long.wav', mimeType: 'audio/wav', buffer: longWav() });
    await page.locator('#message:not([hidden])').waitFor();

    // Assess
    expect(await page.locator('#message').textContent()).toBe(
      '"long.wav" is 601.0 s long; the limit is 10 minutes.',
    );
    expect(await page.getByRole('button', { name: 'Analyse emotion' }).isDisabled()).toBe(true);
    expect(uploadRequests).toEqual([]);
    await page.close();
  });

  it('refuses, before sending, a batch row the browser decodes as longer than the API analyses; the others go on', async () => {
    // Prepare
    const page = await openPage();
    await enterKey(page);

    // Act: the long file's row is refused once decoded; the other file is analysed.
    const { angry, uploadRequests, row } = await dropClipAndLongFile(page);
    await page.locator('#batch-rows tr[data-state="refused"]').waitFor();
    await page.getByRole('button', { name: 'Analyse 1 file' }).click();
    await page.locator('#batch-status', { hasText: 'All 1 file finished' }).waitFor();

    // Assess
    expect(await row('long.wav').locator('td').last().textContent()).toBe(
      'It is 601.0 s long; the limit is 10 minutes.',
    );
    expect(await row(angry.fileName).getAttribute('data-state')).toBe('done');
    expect(uploadRequests).toEqual([angry.fileName]);
    await page.close();
  });

  it('a batch Analysed before the browser finished decoding its files still sends none too long', async () => {
    // Prepare: the browser's decoding held until the batch is under way.
    const page = await openPage(`
      const decode = BaseAudioContext.prototype.decodeAudioData;
      const held = new Promise((resolve) => { window.releaseDecode = resolve; });
      BaseAudioContext.prototype.decodeAudioData = function (...args) {
        return held.then(() => decode.apply(this, args));
      };`);
    await enterKey(page);
    const { angry, uploadRequests, row } = await dropClipAndLongFile(page);

    // Act
    await page.getByRole('button', { name: 'Analyse 2 files' }).click();
    await page.evaluate(() => (globalThis as unknown as { releaseDecode: () => void }).releaseDecode());
    await page.locator('#batch-status', { hasText: 'All 2 files finished' }).waitFor();

    // Assess
    expect(await row('long.wav').getAttribute('data-state')).toBe('refused');
    expect(await row('long.wav').locator('td').last().textContent()).toBe(
      'It is 601.0 s long; the limit is 10 minutes.',
    );
    expect(await row(angry.fileName).getAttribute('data-state')).toBe('done');
    expect(uploadRequests).toEqual([angry.fileName]);
    await page.close();
  });

  it("a long file Analysed before the browser finished decoding it shows the run's answer, not the page's refusal over it", async () => {
    // Prepare: the browser's decoding held until the run is under way
    const page = await openPage(`
      const decode = BaseAudioContext.prototype.decodeAudioData;
      BaseAudioContext.prototype.decodeAudioData = function (...args) {
        return new Promise((resolve) => { window.releaseDecode = () => resolve(decode.apply(this, args)); });
      };`);
    await enterKey(page);
    await page
      .locator('#file-input')
      .setInputFiles({ name: 'long.wav', mimeType: 'audio/wav', buffer: longWav() });

    // Act: Analyse; the decoding ends while the upload is held, then the upload goes on
    const { held, releaseAll } = await holdUploads(page);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await expect.poll(() => held.length).toBe(1);
    await page.evaluate(() => (globalThis as unknown as { releaseDecode: () => void }).releaseDecode());
    await page.locator('#waveform[data-duration-sec]').waitFor({ state: 'attached' });
    releaseAll();
    await page.locator('#message:has-text("TOO_LONG")').waitFor({ timeout: 60_000 });

    // Assess: the API's answer stays the message; the file cannot be sent again
    expect(await page.locator('#message').textContent()).not.toContain('601.0 s long; the limit is');
    await expect.poll(() => page.getByRole('button', { name: 'Analyse emotion' }).isDisabled()).toBe(true);
    await page.close();
  });

  // The tests below install Playwright's clock, which stays installed for the browser context.

  it('a poll that never gets an answer is given up after 30 s and asked again: the result still shows', async () => {
    // Prepare: the first poll is never answered.
    const clip = tessClip('angry');
    const page = await openPage(undefined, { clock: true });
    await enterKey(page);
    let polls = 0;
    await page.route(PREDICTION_URL, (route) => {
      if (polls++ > 0) return route.continue();
    });

    // Act: the hung poll waits past the page's timeout.
    await page.locator('#file-input').setInputFiles(clip.path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await expect.poll(() => polls).toBe(1);
    await page.clock.fastForward(30_000);
    await page.locator('#result:not([hidden]), #message:not([hidden])').first().waitFor({ timeout: 20_000 });

    // Assess
    expect(await page.locator('#message').textContent()).toBe('');
    expect(await page.getByTestId('emotion').textContent()).toBe('angry');
    expect(polls).toBeGreaterThanOrEqual(2);
    await page.close();
  });

  it('a request for an upload URL that never gets an answer fails its row and frees its place: a file waiting behind two starts', async () => {
    // Prepare: the batch's two requests for an upload URL are never answered; later ones are.
    const page = await openPage(undefined, { clock: true });
    await enterKey(page);
    await batchOfTwoHanging(page, /\/uploads$/, 'POST');

    // Act: one file analysed behind the two, then the page's timeout passes.
    await analyseOneBehind(page);
    await page.locator('#status', { hasText: 'Waiting to upload' }).waitFor();
    await page.clock.fastForward(30_000);
    await page.locator('#result:not([hidden]), #message:not([hidden])').first().waitFor({ timeout: 20_000 });

    // Assess: both rows failed, saying why; the waiting file went through.
    expect(await page.locator('#batch-rows tr[data-state="failed"]').count()).toBe(2);
    expect(await page.locator('#batch-rows tr td:nth-child(4)').allTextContents()).toEqual([
      'Error: could not get an upload URL: no answer from the API in 30 s (a slow or lost connection). The file was not sent: try again.',
      'Error: could not get an upload URL: no answer from the API in 30 s (a slow or lost connection). The file was not sent: try again.',
    ]);
    expect(await page.locator('#message').textContent()).toBe('');
    expect(await page.getByTestId('emotion').textContent()).toBe('happy');
    expect(await warnsBeforeLeaving(page)).toBe(false);
    await page.close();
  });

  it('says so when config.json never comes: given up after 30 s, as an API request is, instead of a page stuck loading', async () => {
    // Prepare: the page's request for its config.json is never answered.
    const page = await browser.newPage();
    await page.clock.install();
    let asked = false;
    await page.route(/\/config\.json$/, () => {
      asked = true;
    });

    // Act
    await page.goto(stack.webUrl, { waitUntil: 'commit' });
    await expect.poll(() => asked).toBe(true);
    await page.clock.fastForward(30_000);
    await page.locator('body[data-ready]').waitFor({ state: 'attached', timeout: 20_000 });

    // Assess
    expect(await page.locator('#message').textContent()).toBe(
      'The page could not load its settings (config.json): no answer in 30 s (a slow or lost connection). Reload the page.',
    );
    expect(await page.locator('#message').isVisible()).toBe(true);
    await page.close();
  });

  it("stops a recording by itself at the API's longest duration (config.json) and selects what was recorded", async () => {
    // Prepare
    const page = await openPage(undefined, { clock: true });

    // Act: the recording runs until the page's clock passes 10 minutes.
    await page.getByRole('button', { name: /Record from microphone/ }).click();
    await page.getByText('Recording…').waitFor();
    const whileRecording = await page.locator('#record-status').textContent();
    await page.clock.fastForward(600_000);
    await page
      .locator('#selected-name')
      .filter({ hasText: /^recording-.*\.webm$/ })
      .waitFor({ timeout: 20_000 });

    // Assess
    expect(whileRecording).toBe('Recording… (it stops by itself at 10 minutes)');
    expect(await page.locator('#record-status').textContent()).toBe(
      'Recording stopped at the limit of 10 minutes.',
    );
    expect(await page.locator('#record').getAttribute('aria-pressed')).toBe('false');
    await page.close();
  });

  // This one pauses the clock (resumed at its end), so that only the test moves the page's time.
  it('gives up asking for a result at the 3-minute limit: a poll started a second before it waits only that second', async () => {
    // Prepare: no poll is ever answered.
    const page = await openPage(undefined, { clock: true });
    await enterKey(page);
    let polls = 0;
    await page.route(PREDICTION_URL, () => {
      polls += 1;
    });
    await page.clock.pauseAt(Date.now() + 1_000);

    // Act: the first poll gives up at 30 s; the clock jumps to 178 s; the pause of 1 s after the failure ends
    // at 179 s, when the second poll starts; the clock then reaches the limit.
    await page.locator('#file-input').setInputFiles(tessClip('angry').path);
    await page.getByRole('button', { name: 'Analyse emotion' }).click();
    await expect.poll(() => polls).toBe(1);
    await page.clock.fastForward(178_000);
    await page.locator('#status', { hasText: 'asking again' }).waitFor();
    await page.clock.fastForward(1_000);
    await expect.poll(() => polls).toBe(2);
    await page.clock.fastForward(1_000);
    await page.locator('#message:not([hidden])').waitFor({ timeout: 20_000 });

    // Assess
    expect(await page.locator('#message').textContent()).toBe(
      'The file was received, but after 3 minutes asking for its result kept failing (Error: no answer from the API in 1 s (a slow or lost connection)): look for it under Recent predictions later.',
    );
    expect(polls).toBe(2);
    await page.clock.resume();
    await page.close();
  });
});

it.runIf(!existsSync(CHROMIUM))(
  'needs /usr/bin/chromium for the browser test (apt-get install chromium)',
  () => {
    console.warn('Browser test not run: /usr/bin/chromium is absent (.ci/run installs chromium).');
  },
);
