import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CoordinatorApi } from '../../../shared/rpc/clients';
import { freePort } from '../../harness/processes';

describe('watching a job', () => {
  it('removes its abort listener when the stream fails, so reconnecting with one signal adds none', async () => {
    const api = new CoordinatorApi(`127.0.0.1:${await freePort()}`);
    const signal = new AbortController().signal;
    try {
      for (let attempt = 0; attempt < 12; attempt++) {
        await expect(api.watchJob('job-1', () => undefined, signal)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      }
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    } finally {
      api.close();
    }
  });

  it('opens no stream for a signal already aborted', async () => {
    const api = new CoordinatorApi(`127.0.0.1:${await freePort()}`);
    const stop = new AbortController();
    stop.abort();
    try {
      await expect(api.watchJob('job-1', () => undefined, stop.signal)).rejects.toMatchObject({ code: 'ABORTED' });
    } finally {
      api.close();
    }
  });
});
