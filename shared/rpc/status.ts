import * as grpc from '@grpc/grpc-js';
import { ErrorCode, TfleetError, errorOfCode } from '../errors';

const TO_GRPC: Record<ErrorCode, grpc.status> = {
  INVALID_SPEC: grpc.status.INVALID_ARGUMENT,
  INVALID_DATA: grpc.status.INVALID_ARGUMENT,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  ABORTED: grpc.status.ABORTED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  INTERNAL: grpc.status.INTERNAL,
};

/** Metadata key that carries our error code across the wire. */
const CODE_KEY = 'tfleet-error-code';

/** Maps any error to a gRPC status, keeping our code in metadata. The one place errors go out. */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (err instanceof TfleetError) {
    metadata.set(CODE_KEY, err.code);
    return { code: TO_GRPC[err.code], details: err.message, metadata };
  }
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err), metadata };
}

/** Maps a gRPC error back to our error classes. The one place errors come in. */
export function fromServiceError(err: grpc.ServiceError, what: string): TfleetError {
  const code = err.metadata?.get(CODE_KEY)[0] as ErrorCode | undefined;
  // grpc-js ends a refused connection's details with an empty "Resolution note: ".
  const message = (err.details || err.message).replace(/\.?\s*Resolution note:\s*$/, '');
  const options = { cause: err };
  if (code && code !== 'UNAVAILABLE') return errorOfCode(code, message, options);
  if (err.code === grpc.status.UNAVAILABLE) return new TfleetError('UNAVAILABLE', `${what}: unavailable: ${message}`, options);
  // The auth interceptor answers before any handler: its refusals carry no code of ours.
  if (err.code === grpc.status.UNAUTHENTICATED) return new TfleetError('UNAUTHENTICATED', message, options);
  if (err.code === grpc.status.PERMISSION_DENIED) return new TfleetError('PERMISSION_DENIED', message, options);
  return new TfleetError(code ?? 'INTERNAL', message, options);
}
