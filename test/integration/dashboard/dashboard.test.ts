import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineStatus } from '../../../src/cli/status.js';
import { createIdempotentProducer } from '../../../src/kafka/client.js';
import { generateEntities } from '../../support/generate-entities.js';
import { waitUntil } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { RAGSYNC_BIN, runCli } from '../../support/cli.js';
import { pipelineEnv } from '../../support/worker-process.js';

/**
 * `ragsync dashboard` in a real headless Chromium (Debian's, driven by playwright-core), over a
 * small pipeline on the real stack with one record really dead-lettered: the page's numbers are
 * `status --json`'s, a replay goes through the confirmation dialog and sends the record back, a
 * resync shows its progress or its error, and only a signed-in page of the dashboard itself may
 * act. A missing Chromium fails the test: CI installs it (.ci/run).
 */
const CHROMIUM = process.env.RAGSYNC_CHROMIUM ?? '/usr/bin/chromium';
const RESULTS = fileURLToPath(new URL('../../../test-results/', import.meta.url));
const TOKEN = 'dashboard-test-token-4f9c2a7e1b';

describe('ragsync dashboard', () => {
  let harness: PipelineHarness;
  let env: Record<string, string>;
  let dashboard: ChildProcess | undefined;
  let output = '';
  let url = '';
  let browser: Browser;
  let page: Page;

  async function statusJson(): Promise<PipelineStatus> {
    const { code, out, err } = await runCli(['status', '--json'], env);
    expect(code, err).toBe(0);
    return JSON.parse(out) as PipelineStatus;
  }

  const cell = (stage: string, field: string) => page.locator(`#stages tr[data-stage="${stage}"] td[data-field="${field}"]`);

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set RAGSYNC_CHROMIUM`);
    harness = await PipelineHarness.create('lancedb');
    env = pipelineEnv(harness.config, { RAGSYNC_DASHBOARD_TOKEN: TOKEN });
    await harness.start();
    await harness.publishLines(generateEntities(16, { tenant: 'shop', seed: 11 }).map((l) => JSON.stringify(l)));
    // A record map cannot decode (not Avro): dead-lettered. Then a good save of the same key, which
    // is what a replay of map sends back (the key's current input).
    const producer = createIdempotentProducer(harness.kafka);
    await producer.connect();
    await producer.send({ topic: `${harness.config.topics.prefix}changes.product`, acks: -1, messages: [{ key: 'shop/product/BROKEN-1/1', value: Buffer.from('not avro at all') }] });
    await producer.disconnect();
    await harness.publishLines([JSON.stringify({ type: 'product', tenant: 'shop', store_id: 1, id: 'BROKEN-1', action: 'save', data: { sku: 'BROKEN-1', name: 'Mended lantern', description: '<p>A lantern, mended.</p>' } })]);
    await harness.settle();
    await waitUntil('the broken record in map.dlq', async () => (await harness.dlqDepth())['map.dlq'] === 1, 60_000);

    dashboard = spawn(process.execPath, [RAGSYNC_BIN, 'dashboard', '--port', '0', '--interval', '1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    dashboard.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    dashboard.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitUntil('the dashboard to listen', () => /dashboard on (http:\/\/\S+)/.test(output), 60_000);
    url = /dashboard on (http:\/\/\S+)/.exec(output)![1]!;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    dashboard?.kill('SIGTERM');
    await harness?.close();
  });

  it('refuses to start without a token, unless --no-auth on loopback', async () => {
    const { RAGSYNC_DASHBOARD_TOKEN: _token, ...without } = env;
    const refused = await runCli(['dashboard', '--port', '0'], without);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('RAGSYNC_DASHBOARD_TOKEN is not set');
    const open = await runCli(['dashboard', '--port', '0', '--no-auth', '--host', '0.0.0.0'], without);
    expect(open.code).toBe(2);
    expect(open.err).toContain('--no-auth is allowed only on a loopback address');
  });

  it('lets in only who has the token, and never shows it', async () => {
    expect((await fetch(`${url}api/status`)).status).toBe(401);
    expect((await fetch(url, { redirect: 'manual' })).headers.get('location')).toBe('/login');
    const wrong = await fetch(`${url}login`, { method: 'POST', body: new URLSearchParams({ token: 'not-the-token-at-all' }), redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const scripted = await fetch(`${url}api/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(scripted.status).toBe(200);
    expect(await scripted.text()).not.toContain(TOKEN);
    expect(output).not.toContain(TOKEN);
    const config = await runCli(['config'], env);
    expect(JSON.parse(config.out).dashboard.token).toBe('***');
    expect(config.out).not.toContain(TOKEN);
  });

  it('shows the numbers status --json gives, live', async () => {
    await page.goto(url);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(url), page.click('button[type=submit]')]);
    expect(await page.content()).not.toContain(TOKEN);
    const status = await statusJson();
    expect(status.verdict!.notes).toEqual([]);
    // A page rendered from a read made after the CLI's (the dashboard reads every second).
    await expect.poll(async () => Date.parse((await page.getAttribute('body', 'data-rendered')) ?? '') || 0, { timeout: 60_000 }).toBeGreaterThan(Date.parse(status.at!));
    for (const stage of status.stages) {
      expect(await cell(stage.stage, 'lag').textContent(), `${stage.stage} lag`).toBe(String(stage.lag));
      expect(await cell(stage.stage, 'dlq').textContent(), `${stage.stage} dlq`).toBe(stage.dlq === undefined ? '-' : String(stage.dlq));
    }
    expect(await cell('map', 'dlq').textContent()).toBe('1');
    expect(await page.textContent('#tile-dlq')).toBe('1');
    expect(await page.textContent('#tile-documents')).toBe(String(status.documents));
    expect(await page.textContent('#tile-points')).toBe(String(status.points));
    expect(status.documents).toBe(17);
    expect(status.points).toBeGreaterThan(17);
    for (const d of status.documentsByType!) {
      expect(await page.textContent(`#index-documents tr[data-index="${d.tenant}/${d.entityType}"] td[data-field="documents"]`)).toBe(String(d.documents));
    }
    for (const p of status.pointsByType!) {
      expect(await page.textContent(`#index-points tr[data-index="${p.tenant}/${p.docType}"] td[data-field="points"]`)).toBe(String(p.points));
    }
    expect(Number(await page.textContent('#tile-in'))).toBeGreaterThan(0);
    expect(Number(await page.textContent('#tile-done'))).toBeGreaterThan(0);
    expect(await page.getAttribute('#verdict', 'data-state')).toBe(status.verdict!.state);
    expect(status.verdict!.state).toBe('failing');
    expect(await page.textContent('#verdict-reasons')).toContain('1 dead letter in map.dlq');
    expect(await page.textContent(`#dlq-reasons tr[data-reason^="map:"] td[data-field="count"]`)).toBe('1');
    // The stages ran in the last minute: records per second are not zero, and the charts have points.
    expect(Number(await cell('map', 'donePerSecond').textContent())).toBeGreaterThan(0);
    await page.locator('#chart-lag .u-over').waitFor({ timeout: 30_000 });
    await page.locator('#chart-rate .u-over').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(3_000);
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: `${RESULTS}dashboard.png`, fullPage: true });
    expect(statSync(`${RESULTS}dashboard.png`).size).toBeGreaterThan(20_000);
  });

  it('replays a dead letter only after the confirmation, and the record is sent back', async () => {
    const button = page.locator('#stages button.replay-row[data-group="map"]');
    await button.click();
    await page.waitForSelector('#confirm[open]');
    expect(await page.textContent('#confirm-title')).toBe('Replay 1 dead letter?');
    expect(await page.textContent('#confirm-list')).toContain('map.dlq: 1 to send back');
    await page.click('#confirm-cancel');
    await page.locator('#replay-result', { hasText: /^Replay cancelled\.$/ }).waitFor();
    const before = await runCli(['dlq', 'list', '--group', 'map', '--json'], env);
    expect(JSON.parse(before.out)[0]).toMatchObject({ pending: 1, replayed: 0 });

    await button.click();
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitForSelector('#replay-result[data-replayed="1"]', { timeout: 60_000 });
    const after = await runCli(['dlq', 'list', '--group', 'map', '--json'], env);
    expect(JSON.parse(after.out)[0]).toMatchObject({ pending: 0, replayed: 1 });
    await page.locator('#stages tr[data-stage="map"] td[data-field="dlq"]', { hasText: /^0$/ }).waitFor({ timeout: 30_000 });
    expect((await statusJson()).stages.find((s) => s.stage === 'map')!.dlq).toBe(0);
    await page.screenshot({ path: `${RESULTS}dashboard-after-replay.png`, fullPage: true });
  });

  it('takes actions only from its own signed-in page', async () => {
    const noCsrf = await page.request.post(`${url}api/replay`, { data: { dryRun: true } });
    expect(noCsrf.status()).toBe(403);
    const csrf = (await page.getAttribute('meta[name="csrf-token"]', 'content'))!;
    const elsewhere = await page.request.post(`${url}api/replay`, { data: { dryRun: true }, headers: { 'x-csrf-token': csrf, origin: 'http://evil.example' } });
    expect(elsewhere.status()).toBe(403);
    expect((await elsewhere.json()).error).toContain('http://evil.example');
    const unconfirmed = await page.request.post(`${url}api/replay`, { data: { dryRun: false }, headers: { 'x-csrf-token': csrf } });
    expect(unconfirmed.status()).toBe(400);
    const signedOut = await fetch(`${url}api/replay`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: '{"dryRun":true}' });
    expect(signedOut.status).toBe(401);
  });

  it('starts a resync after the confirmation and shows its progress, or why it failed', async () => {
    await page.fill('#resync-form input[name="tenant"]', 'shop');
    await page.selectOption('#resync-form select[name="from"]', 'vectors');
    await page.click('#resync-form button[type=submit]');
    await page.waitForSelector('#confirm[open]');
    expect(await page.textContent('#confirm-list')).toContain('tenant: shop');
    await page.click('#confirm-ok');
    await page.waitForSelector('#resync-panel[data-state]', { timeout: 30_000 });
    // Until it ended, or shows a progress line (`| <phase> …`).
    await expect
      .poll(async () => (await page.getAttribute('#resync-panel', 'data-state')) !== 'running' || /\| \S+/.test((await page.textContent('#resync-state')) ?? ''), { timeout: 120_000 })
      .toBe(true);
    const state = await page.getAttribute('#resync-panel', 'data-state');
    const shown = (await page.textContent('#resync-state'))!;
    expect(shown).toContain('ragsync resync --tenant shop --from vectors --progress json --yes');
    if (state === 'failed') {
      // What the command itself says, as an operator would read it in a terminal.
      const direct = await runCli(['resync', '--tenant', 'shop', '--from', 'vectors', '--progress', 'json', '--yes'], env);
      expect(direct.code).not.toBe(0);
      const firstLine = direct.err.trim().split('\n')[0]!;
      expect(firstLine.length).toBeGreaterThan(0);
      expect(await page.textContent('#resync-output')).toContain(firstLine);
      expect(await page.isVisible('#resync-output')).toBe(true);
    } else {
      expect(shown).toMatch(/\| \S+ /);
    }
    await page.screenshot({ path: `${RESULTS}dashboard-resync.png`, fullPage: true });
  });
});
