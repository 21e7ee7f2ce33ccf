import { JSONCodec, NatsConnection, connect } from 'nats';
import { TfleetError } from '../errors';
import { Logger } from '../log';
import { EventBus, InProcessBus } from './bus';

const codec = JSONCodec<Record<string, unknown>>();

/**
 * Publishes events to a NATS server and also delivers them in process, so
 * local subscribers see the same stream with or without NATS.
 */
export class NatsBus implements EventBus {
  private readonly local = new InProcessBus();

  private constructor(private readonly nc: NatsConnection, private readonly log: Logger) {}

  /** @throws TfleetError UNAVAILABLE naming the URL when no server answers. */
  static async connect(url: string, log: Logger): Promise<NatsBus> {
    try {
      const nc = await connect({ servers: url, name: 'tfleet-coordinator', maxReconnectAttempts: -1, timeout: 5_000 });
      log.info('connected to NATS', { server: nc.getServer() });
      return new NatsBus(nc, log);
    } catch (err) {
      throw new TfleetError('UNAVAILABLE', `cannot connect to NATS at ${url}: ${(err as Error).message}`, { cause: err });
    }
  }

  publish(subject: string, payload: Record<string, unknown>): void {
    this.local.publish(subject, payload);
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
    await this.local.close();
    await this.nc.drain();
  }
}
