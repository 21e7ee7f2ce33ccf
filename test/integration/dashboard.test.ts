import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths';
import { decodePng } from '../harness/png';
import { killAll, runCli, startCli } from '../harness/processes';

const CHROMIUM = '/usr/bin/chromium';

/** The dashboard in a real browser: Debian's chromium, headless (.ci/run installs it; elsewhere the suite says it is skipped). */
describe.skipIf(!existsSync(CHROMIUM))('the coordinator\'s web dashboard in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfleet-dashboard-'));
  afterAll(async () => {
    await killAll();
  });

  it('lists the jobs and workers, and draws a job\'s loss curve; with a token its API refuses callers without it', async () => {
    const token = 'dashboard-test-token-0123456789';
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token);
    const co = await startCli(['coordinator', '--port', '0', '--metrics-port', '0', '--state-dir', join(dir, 'state'), '--runs-dir', join(dir, 'runs'), '--auth-token-file', tokenFile]);
    const env = { TFLEET_AUTH_TOKEN: token };
    await startCli(['worker', '--coordinator', co.ready.grpc!, '--metrics-port', '0', '--backend', 'cpu', '--name', 'dash-worker'], env);
    const res = await runCli(['submit', join(ROOT, 'examples', 'wine-softmax.json'), '--coordinator', co.ready.grpc!, '--set', 'workers=1', '--set', 'training.epochs=12',
      '--set', `output=${join(dir, 'runs', 'wine')}`, '--wait', '--json'], env);
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
      await page.waitForFunction(() => (document.getElementById('loss')?.getAttribute('points') ?? '').split(' ').length === 12);
      // The screenshot shows the curve: pixels of the line's colour, spread across the chart.
      const shot = decodePng(await page.locator('#chart').screenshot({ type: 'png' }));
      let line = 0;
      const columns = new Set<number>();
      for (let i = 0; i < shot.width * shot.height; i++) {
        const [r, g, b] = [shot.rgba[4 * i], shot.rgba[4 * i + 1], shot.rgba[4 * i + 2]];
        if (Math.abs(r - 0x1f) < 40 && Math.abs(g - 0x77) < 40 && Math.abs(b - 0xb4) < 40) {
          line++;
          columns.add(i % shot.width);
        }
      }
      expect(line).toBeGreaterThan(300);
      expect(columns.size).toBeGreaterThan(shot.width / 2);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
