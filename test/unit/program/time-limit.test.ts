import { describe, expect, it } from 'vitest';
import { WedgedTaskError, withinTime } from '../../../worker/run-task';

describe('a task step under a time limit', () => {
  it('passes a step that ends in time through, value or error', async () => {
    await expect(withinTime(Promise.resolve(7), 1000, 'export')).resolves.toBe(7);
    await expect(withinTime(Promise.reject(new Error('disk full')), 1000, 'export')).rejects.toThrow('disk full');
    await expect(withinTime(Promise.resolve(1), 0, 'export')).resolves.toBe(1);
  });

  it('gives up on a step that never ends, saying which and how long, and hands back the step to wait on', async () => {
    let finish: (v: string) => void = () => undefined;
    const hung = new Promise<string>((r) => (finish = r));
    const err = await withinTime(hung, 20, 'evaluation and export').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WedgedTaskError);
    expect((err as WedgedTaskError).message).toBe('evaluation and export did not finish within 20 ms');
    let settled = false;
    void (err as WedgedTaskError).settled.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    finish('late');
    await (err as WedgedTaskError).settled;
    expect(settled).toBe(true);
  });
});
