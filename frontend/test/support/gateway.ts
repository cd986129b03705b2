/**
 * Start and stop the real local gateway (`python -m stateway_local.run`, from the repository's
 * .venv) for integration and e2e tests.
 *
 * Contract: run with STATEWAY_PORT, STATEWAY_HOST and STATEWAY_JWT_SECRET; it serves the HTTP
 * API of `infra/template.yaml` (with its parameters' defaults), starts its own
 * Redis, MongoDB-protocol and S3 servers on loopback, prints a line containing
 * `http://127.0.0.1:<port>` once `GET /api/health` answers, serves `frontend/dist` at
 * `/inspector/`, and stops everything on SIGTERM.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FRONTEND_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_ROOT = resolve(FRONTEND_DIR, '..');

const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;

export interface Gateway {
  url: string;
  secret: string;
  logPath: string | null;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

/**
 * The environment without the tier endpoints, so that the gateway starts its own servers, and
 * without another template or parameter overrides, so that it serves the repository's template.
 */
function isolatedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of [
    'REDIS_URL',
    'MONGODB_URI',
    'STATEWAY_MONGODB_URI_SOURCE',
    'AWS_ENDPOINT_URL',
    'AWS_ENDPOINT_URL_S3',
    'STATEWAY_JWKS_URL',
    'STATEWAY_JWT_ISSUER',
    'STATEWAY_JWT_AUDIENCE',
    'STATEWAY_TEMPLATE',
    'STATEWAY_PARAMETER_OVERRIDES',
  ]) {
    delete env[name];
  }
  return env;
}

/** A gateway that is already running (STATEWAY_TEST_URL and STATEWAY_TEST_JWT_SECRET), else a new one. */
export async function startGateway(): Promise<Gateway> {
  const externalUrl = process.env.STATEWAY_TEST_URL;
  const externalSecret = process.env.STATEWAY_TEST_JWT_SECRET;
  if (externalUrl && externalSecret) {
    return { url: externalUrl.replace(/\/+$/, ''), secret: externalSecret, logPath: null, stop: async () => {} };
  }

  const python = join(REPO_ROOT, '.venv', 'bin', 'python');
  if (!existsSync(python)) throw new Error(`Cannot start the local gateway: ${python} does not exist.`);

  const port = await freePort();
  const secret = randomBytes(32).toString('hex');
  const logPath = join(mkdtempSync(join(tmpdir(), 'stateway-gateway-')), 'gateway.log');
  const log = createWriteStream(logPath);
  const child = spawn(python, ['-m', 'stateway_local.run'], {
    cwd: REPO_ROOT,
    env: {
      ...isolatedEnv(),
      STATEWAY_PORT: String(port),
      STATEWAY_HOST: '127.0.0.1',
      STATEWAY_JWT_SECRET: secret,
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
        child.kill('SIGKILL');
        await waitForExit(child, STOP_TIMEOUT_MS);
      }
    }
    log.end();
  };

  const expected = `http://127.0.0.1:${port}`;
  let tail = '';
  try {
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`The local gateway did not print ${expected} within ${START_TIMEOUT_MS / 1000} s.`)),
        START_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer): void => {
        log.write(chunk);
        tail = (tail + chunk.toString()).slice(-4000);
        if (tail.includes(expected)) {
          clearTimeout(timer);
          ready();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`The local gateway exited (${signal ?? code}) before it was ready.`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        fail(error);
      });
    });
  } catch (error) {
    await stop();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\nLog: ${logPath}\n--- last output ---\n${tail}`);
  }
  return { url: expected, secret, logPath, stop };
}
