/**
 * Raw TCP baseline: two Node processes on loopback. `server PORTFILE`
 * echoes every byte back; `client PORT SIZE ROUNDS` sends SIZE bytes, waits
 * for them to come back, and prints the per-round times as JSON.
 */
import { createConnection, createServer } from 'node:net';

const [mode, a, b, c] = process.argv.slice(2);

if (mode === 'server') {
  const server = createServer((sock) => sock.pipe(sock));
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(JSON.stringify({ port }) + '\n');
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  const port = Number(a);
  const size = Number(b);
  const rounds = Number(c);
  const payload = Buffer.alloc(size, 7);
  const sock = createConnection({ port, host: '127.0.0.1' }, async () => {
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      await new Promise<void>((resolve) => {
        let got = 0;
        const onData = (d: Buffer): void => {
          got += d.length;
          if (got >= size) {
            sock.off('data', onData);
            resolve();
          }
        };
        sock.on('data', onData);
        sock.write(payload);
      });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    sock.end();
    process.stdout.write(JSON.stringify({ times }) + '\n');
  });
}
