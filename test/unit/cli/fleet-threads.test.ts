import { describe, expect, it } from 'vitest';
import { defaultThreadsPerWorker } from '../../../bin/fleet';

describe("tfleet up's threads per worker", () => {
  it("divides the host's cores but one among the workers, at least one each", () => {
    expect(defaultThreadsPerWorker(1, 2)).toBe(1);
    expect(defaultThreadsPerWorker(2, 2)).toBe(1);
    expect(defaultThreadsPerWorker(1, 16)).toBe(15);
    expect(defaultThreadsPerWorker(3, 16)).toBe(5);
    expect(defaultThreadsPerWorker(4, 1)).toBe(1);
    expect(defaultThreadsPerWorker(8, 4)).toBe(1);
  });
});
