/**
 * Vitest global setup of the `integration` and `e2e` projects: one gateway for both.
 *
 * Both projects name this file; the gateway is kept on `globalThis` of the main
 * process, so it is started once and stopped after the last project is done.
 */

import type { TestProject } from 'vitest/node';
import { type Gateway, startGateway } from './gateway';

declare module 'vitest' {
  export interface ProvidedContext {
    gatewayUrl: string;
    jwtSecret: string;
  }
}

interface Shared {
  users: number;
  gateway: Promise<Gateway>;
}

const KEY = Symbol.for('stateway.test.gateway');
const registry = globalThis as unknown as Record<symbol, Shared | undefined>;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let shared = registry[KEY];
  if (!shared) {
    shared = { users: 0, gateway: startGateway() };
    registry[KEY] = shared;
  }
  shared.users += 1;
  const gateway = await shared.gateway;
  project.provide('gatewayUrl', gateway.url);
  project.provide('jwtSecret', gateway.secret);
  return async () => {
    const current = registry[KEY];
    if (!current) return;
    current.users -= 1;
    if (current.users === 0) {
      registry[KEY] = undefined;
      await (await current.gateway).stop();
    }
  };
}
