import { JSONCodec, NatsConnection, connect } from 'nats';
import { Logger } from '../log';
import { EventBus, InProcessBus } from './bus';

const codec = JSONCodec<Record<string, unknown>>();

/**
 * Publishes events to a NATS server and also delivers them in process, so
 * local subscribers see the same stream with or without NATS. NATS being
 * down never stops the coordinator: the bus connects in the background,
 * keeps reconnecting for good, and until a server answers, events reach the
 * in-process subscribers only (and are counted as dropped).
 */
export class NatsBus implements EventBus {
  private readonly local = new InProcessBus();
  private nc: NatsConnection | null = null;
  private dropped = 0;
  private closed = false;
  private readonly connecting: Promise<void>;

  private constructor(private readonly url: string, private readonly log: Logger) {
    this.connecting = connect({ servers: url, name: 'tfleet-coordinator', maxReconnectAttempts: -1, waitOnFirstConnect: true, timeout: 5_000 })
      .then((nc) => {
        if (this.closed) return void nc.close();
        this.nc = nc;
        log.info('connected to NATS', { server: nc.getServer(), droppedBefore: this.dropped });
      })
      .catch((err: Error) => log.warn('gave up connecting to NATS; events stay in process', { url, error: err.message }));
  }

  /** A bus for the server at `url`; it returns at once, connected or not. */
  static async connect(url: string, log: Logger): Promise<NatsBus> {
    const bus = new NatsBus(url, log);
    // A server that is up answers within a moment: wait that long, so the first events are not dropped.
    await Promise.race([bus.connecting, new Promise((r) => setTimeout(r, 1000).unref())]);
    if (!bus.nc) log.warn('NATS does not answer; the coordinator goes on, and events go to NATS once it does', { url });
    return bus;
  }

  publish(subject: string, payload: Record<string, unknown>): void {
    this.local.publish(subject, payload);
    if (!this.nc) {
      this.dropped++;
      return;
    }
    try {
      this.nc.publish(subject, codec.encode(payload));
    } catch (err) {
      this.log.warn('NATS publish failed', { subject, error: (err as Error).message });
    }
  }

  subscribe(pattern: string, handler: (subject: string, payload: Record<string, unknown>) => void): () => void {
    return this.local.subscribe(pattern, handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.local.close();
    if (this.nc) await this.nc.drain();
    else void this.connecting;
  }
}
