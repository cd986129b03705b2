export * from './api';
export * from './errors';
export * from './ids';
export { authMiddleware, errorMiddleware, parseRetryAfter, retryDelay, retryMiddleware, retryPolicy } from './middleware';
export type { RetryMiddlewareOptions } from './middleware';
export * from './projectState';
export * from './session';
export type * from './types';
export type { components, paths, operations } from './schema';
