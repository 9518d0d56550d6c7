export { HeyGenAPI } from './client';
export {
  AbortError,
  AuthError,
  DisposedError,
  HeyGenError,
  HttpError,
  InvalidArgumentError,
  JobFailedError,
  JobNotFoundError,
  ListenerNotFoundError,
  MessageParseError,
  NetworkError,
  SSEError,
  TimeoutError,
} from './errors';
export { switchTransport } from './operators/switch-transport';
export {
  type ActiveTransport,
  type CreateJobOptions,
  type ErrorCallback,
  type EventSourceConstructor,
  type EventSourceLike,
  type EventSourceMessage,
  type FetchLike,
  type HeyGenAPIOptions,
  HeyGenStatusListenerMode,
  type Job,
  type JobStatus,
  type Logger,
  type SseRetryOptions,
  type StatusCallback,
  type WaitForJobOptions,
} from './types';
