import { AddressInfo, Socket, connect, createServer } from 'node:net';

export interface FaultyRelay {
  /** host:port to dial instead of the target. */
  address: string;
  /** Stops forwarding what the server sends on the connections open now: a link gone silent. */
  hold(): void;
  /** Drops the connections open now (with whatever was held); later connections pass freely. */
  cut(): void;
  close(): Promise<void>;
}

/** A TCP relay in front of `target` (host:port), standing in for network faults. */
export async function faultyRelay(target: string): Promise<FaultyRelay> {
  const [host, port] = target.split(':');
  const open = new Set<Socket>();
  const held = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), host);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!held.has(upstream)) client.write(chunk);
    });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = (): void => {
    for (const s of open) s.destroy();
  };
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: () => {
      for (const s of open) held.add(s);
    },
    cut,
    close: () =>
      new Promise((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
}
