import { describe, expect, it } from 'vitest';
import { isConnectFailure, withCoordinatorPort } from '../../../shared/rpc/address';

describe('coordinator addresses', () => {
  it('give a bare host the coordinator port and pass everything else as given', () => {
    expect(withCoordinatorPort('127.0.0.1')).toBe('127.0.0.1:7070');
    expect(withCoordinatorPort('coordinator.internal')).toBe('coordinator.internal:7070');
    expect(withCoordinatorPort('::1')).toBe('[::1]:7070');
    expect(withCoordinatorPort('fe80::1')).toBe('[fe80::1]:7070');
    expect(withCoordinatorPort('[::1]')).toBe('[::1]:7070');
    for (const given of ['127.0.0.1:9000', '[::1]:9000', 'host:1', 'dns:///host:9000', 'unix:/run/tfleet.sock']) {
      expect(withCoordinatorPort(given)).toBe(given);
    }
  });

  it('tell a server that never answered from one that did', () => {
    expect(isConnectFailure('listJobs: unavailable: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1')).toBe(true);
    expect(isConnectFailure("watch of job 'job-1' ended without a record")).toBe(false);
  });
});
