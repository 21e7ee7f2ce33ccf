import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DataError, SpecError } from '../../../shared/errors';
import { fromServiceError, toServiceError } from '../../../shared/rpc/status';

const roundTrip = (err: Error) => fromServiceError(toServiceError(err) as grpc.ServiceError, 'submit');

describe('errors across gRPC', () => {
  it('brings a SpecError back as a SpecError with its field', () => {
    const back = roundTrip(new SpecError('model.maxBins', 'must be an integer ≥ 2 and ≤ 256, got 300'));
    expect(back).toBeInstanceOf(SpecError);
    expect((back as SpecError).field).toBe('model.maxBins');
    expect(back.message).toBe("job spec: 'model.maxBins' must be an integer ≥ 2 and ≤ 256, got 300");
  });

  it('keeps the class of other errors and their message', () => {
    const back = roundTrip(new DataError('wine.csv line 3: expected 14 cells'));
    expect(back).toBeInstanceOf(DataError);
    expect(back.code).toBe('INVALID_DATA');
    expect(back.message).toBe('wine.csv line 3: expected 14 cells');
  });
});
