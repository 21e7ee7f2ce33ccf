import * as grpc from '@grpc/grpc-js';
import { connect } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { FLOW_CONTROL_WINDOW_BYTES, widenServerWindows } from '../../../shared/rpc/services';

describe('widenServerWindows', () => {
  let server: grpc.Server | null = null;
  afterEach(() => server?.forceShutdown());

  it('advertises the wide window to a connecting HTTP/2 client, for streams and the connection', async () => {
    server = new grpc.Server();
    const port = await new Promise<number>((ok, fail) =>
      server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? fail(err) : ok(p))),
    );
    widenServerWindows(server, FLOW_CONTROL_WINDOW_BYTES);
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      // The server sends its default SETTINGS first, then the widened ones and a
      // WINDOW_UPDATE for the connection; a ping round trip comes back after both.
      await new Promise((resolve) => session.once('remoteSettings', resolve));
      await new Promise((resolve) => session.ping(resolve));
      expect(session.remoteSettings.initialWindowSize).toBe(FLOW_CONTROL_WINDOW_BYTES);
      expect(session.state.remoteWindowSize).toBe(FLOW_CONTROL_WINDOW_BYTES);
    } finally {
      session.destroy();
    }
  });
});
