import { getEventListeners } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CoordinatorApi } from '../../../shared/rpc/clients';

/** A loopback port with nothing listening on it: taken, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('watching a job', () => {
  it('removes its abort listener when the stream fails, so reconnecting with one signal adds none', async () => {
    const api = new CoordinatorApi(`127.0.0.1:${await closedPort()}`);
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
});
