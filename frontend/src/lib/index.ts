export * from './api';
export * from './errors';
export * from './ids';
export * from './projectState';
export * from './session';
export type * from './types';
export type { components, paths, operations } from './schema';
