import type { Job } from '../types';

/**
 * Event that a transport reports: a job's state, or that a watched job does not exist for this client.
 * Both transports (SSE and POLL) emit this one type, so the client can switch between them.
 */
export type TransportEvent =
  | { readonly kind: 'job'; readonly job: Job }
  | { readonly kind: 'missing'; readonly jobId: string };
