import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { decodePng } from '../harness/png';
import { killAll, runCli, startCli } from '../harness/processes';

const CHROMIUM = '/usr/bin/chromium';

/** Pixels of a screenshot within 40 of an RGB colour, and how many columns they reach. */
function colourSpread(png: Buffer, [r0, g0, b0]: [number, number, number]): { pixels: number; columns: number } {
  const shot = decodePng(png);
  let pixels = 0;
  const columns = new Set<number>();
  for (let i = 0; i < shot.width * shot.height; i++) {
    const [r, g, b] = [shot.rgba[4 * i], shot.rgba[4 * i + 1], shot.rgba[4 * i + 2]];
    if (Math.abs(r - r0) < 40 && Math.abs(g - g0) < 40 && Math.abs(b - b0) < 40) {
      pixels++;
      columns.add(i % shot.width);
    }
  }
  return { pixels, columns: columns.size };
}

/** The dashboard in a real browser: Debian's chromium, headless (.ci/run installs it; elsewhere the suite says it is skipped). */
describe.skipIf(!existsSync(CHROMIUM))('the coordinator\'s web dashboard in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-dashboard-'));
  afterAll(async () => {
    await killAll();
  });

  it('lists the jobs and workers and draws a running job\'s loss and test-accuracy curves, growing as it trains; with a token its API refuses callers without it', async () => {
    const token = 'dashboard-test-token-0123456789';
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token);
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs'), '--auth-token-file', tokenFile]);
    const env = { TFLEET_AUTH_TOKEN: token };
    const tfleet = (...args: string[]) => runCli([...args, '--coordinator', co.ready.grpc!], env);
    await startCli(['worker', '--coordinator', co.ready.grpc!, '--metrics-port', '0', '--backend', 'cpu', '--name', 'dash-worker'], env);
    // Long enough to be watched while it runs; the test set evaluated every second epoch.
    const res = await tfleet('submit', join(ROOT, 'examples', 'wine-softmax.json'), '--set', 'workers=1', '--set', 'training.epochs=100000',
      '--set', 'training.evaluateEvery=2', '--set', `output=${join(dir, 'runs', 'wine')}`, '--json');
    expect(res.code, res.stderr).toBe(0);
    const id = JSON.parse(res.stdout).id;
    const base = co.ready.metrics.replace(/\/metrics$/, '');
    expect((await fetch(`${base}/api/jobs`)).status).toBe(401);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
      await page.goto(`${base}/#token=${token}`);
      const row = page.locator(`tr.job[data-id="${id}"]`);
      await row.waitFor();
      expect(await row.innerText()).toContain('wine-softmax');
      expect(await page.locator('#workers tbody').innerText()).toContain('dash-worker');
      await row.click();
      await page.locator('#detail-title').filter({ hasText: 'wine-softmax' }).waitFor();
      // The page polls: the same page, never reloaded, shows later rounds while the job runs.
      const lastRound = async () => Number(/to (\d+), live$/.exec(await page.locator('#chart-bottom').textContent() ?? '')?.[1] ?? 0);
      await page.waitForFunction(() => /to \d+, live$/.test(document.getElementById('chart-bottom')?.textContent ?? '') && (document.getElementById('test')?.getAttribute('points') ?? '').split(' ').length >= 20);
      const seen = await lastRound();
      await page.waitForFunction((before) => Number(/to (\d+), live$/.exec(document.getElementById('chart-bottom')?.textContent ?? '')?.[1] ?? 0) >= before + 10, seen);
      expect(await lastRound()).toBeGreaterThanOrEqual(seen + 10);
      expect(await page.locator('#detail-title').textContent()).toContain(': running');
      expect(await page.locator('#chart-top').textContent()).toMatch(/^train loss \d+\.\d{4} → \d+\.\d{4}$/);
      expect(await page.locator('#chart-test').textContent()).toMatch(/^test accuracy [01]\.\d{4} \(round \d+\)$/);
      // The screenshot shows both curves: pixels of each line's colour, spread across the chart.
      const shot = await page.locator('#chart').screenshot({ type: 'png' });
      // Kept beside the fleet's state for a person to look at.
      writeFileSync(join(dir, 'chart.png'), shot);
      const width = decodePng(shot).width;
      for (const colour of [[0x1f, 0x77, 0xb4], [0xff, 0x7f, 0x0e]] as [number, number, number][]) {
        const { pixels, columns } = colourSpread(shot, colour);
        expect(pixels, colour.join(',')).toBeGreaterThan(300);
        expect(columns, colour.join(',')).toBeGreaterThan(width / 2);
      }

      // The worker's row: its backend, job and rank, and its last round's mean step split into compute and wait.
      const workerRow = page.locator('#workers tr[data-name="dash-worker"]');
      const rowText = await workerRow.innerText();
      expect(rowText).toMatch(new RegExp(`^dash-worker\tcpu\t${id} rank 0\tcompute \\S+ ms / wait \\S+ ms`));
      const [, compute, wait] = /compute (\S+) ms \/ wait (\S+) ms/.exec(rowText)!;
      expect(Number(compute)).toBeGreaterThan(0);
      expect(Number(wait)).toBeGreaterThan(0);
      // Its bar has a compute part and a wait part, both drawn.
      const widths = await workerRow.locator('.bar span').evaluateAll((parts) => parts.map((p) => [p.className, p.getBoundingClientRect().width]));
      expect(widths.map(([cls]) => cls)).toEqual(['bar-compute', 'bar-wait']);
      for (const [cls, width] of widths) expect(width, String(cls)).toBeGreaterThan(0);

      expect((await tfleet('cancel', id)).code).toBe(0);
      await page.locator('#detail-title').filter({ hasText: ': cancelled' }).waitFor();
      expect(await page.locator('#chart-bottom').textContent()).not.toContain('live');
      // Idle again, the worker keeps the step time of the job it last trained, named.
      await workerRow.filter({ hasText: 'idle' }).waitFor();
      expect(await workerRow.innerText()).toMatch(new RegExp(`\tidle\tcompute \\S+ ms / wait \\S+ ms \\(job ${id}\\)`));
    } finally {
      await browser.close();
    }
    // The API behind it: per-step means of the worker's last round, which fit in that round's time (wine's 142
    // training rows in batches of 32 are 5 steps a round on one rank).
    const auth = { headers: { authorization: `Bearer ${token}` } };
    const views = await (await fetch(`${base}/api/workers`, auth)).json() as { name: string; backend: string; job: string | null; rank: number | null; step: { job: string; rank: number; round: number; computeSeconds: number; waitSeconds: number } | null }[];
    const worker = views.find((w) => w.name === 'dash-worker')!;
    expect(worker).toMatchObject({ backend: 'cpu', job: null, rank: null, step: { job: id, rank: 0 } });
    const step = worker.step!;
    expect(step.computeSeconds).toBeGreaterThan(0);
    expect(step.waitSeconds).toBeGreaterThan(0);
    const finished = await (await fetch(`${base}/api/jobs/${id}`, auth)).json() as { history: { round: number; seconds: number }[] };
    const round = finished.history.find((h) => h.round === step.round);
    expect(round, `round ${step.round}`).toBeDefined();
    expect(5 * (step.computeSeconds + step.waitSeconds)).toBeLessThanOrEqual(round!.seconds + 0.002);
    // The record's history: test metrics exactly on the evaluated rounds (every second one), in status too.
    const job = JSON.parse((await tfleet('status', id, '--json')).stdout);
    expect(job.history.length).toBeGreaterThan(20);
    for (const h of job.history) {
      if (h.round % 2 === 1) expect(Object.keys(h.test ?? {}).sort(), `round ${h.round}`).toEqual(['accuracy', 'count', 'loss']);
      else expect(h.test, `round ${h.round}`).toBeUndefined();
    }
    expect((await tfleet('status', id)).stdout).toMatch(/^ {2}round \d+ {2}loss \d+\.\d{4} {2}\d+ rows {2}\d+\.\d{2} s {2}test loss \d+\.\d{4} accuracy [01]\.\d{4}$/m);
  }, 90_000);
});
