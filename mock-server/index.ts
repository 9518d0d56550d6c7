export { createMockServer } from './server';
export type { MockServer, MockServerStats } from './server';
export type { MockServerLimits, MockServerOptions } from './options';
export type { CreateJobOptions, JobOutcome, JobStore, JobStoreEvents } from './store';
export type { Faults, FaultState } from './faults';
export type { Job, JobStatus } from '../src/types';
