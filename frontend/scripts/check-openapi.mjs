#!/usr/bin/env node
// Regenerate the client's types from ../openapi.yaml and fail if they differ from the
// committed src/lib/schema.d.ts, so the client and the API document cannot drift apart.
// Fix a failure with `npm run gen:openapi` and commit the result.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const frontend = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(frontend, 'src', 'lib', 'schema.d.ts');
const scratch = mkdtempSync(join(tmpdir(), 'stateway-openapi-'));
const fresh = join(scratch, 'schema.d.ts');

try {
  execFileSync(
    process.execPath,
    [join(frontend, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), join(frontend, '..', 'openapi.yaml'), '-o', fresh],
    { cwd: frontend, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const want = readFileSync(fresh, 'utf8');
  let have = '';
  try {
    have = readFileSync(committed, 'utf8');
  } catch {
    // reported below as a difference
  }
  if (want !== have) {
    const a = have.split('\n');
    const b = want.split('\n');
    let line = 0;
    while (line < Math.max(a.length, b.length) && a[line] === b[line]) line++;
    console.error(`src/lib/schema.d.ts is out of date with openapi.yaml (first difference at line ${line + 1}):`);
    console.error(`  committed: ${a[line] ?? '<end of file>'}`);
    console.error(`  generated: ${b[line] ?? '<end of file>'}`);
    console.error('Run `npm run gen:openapi` in frontend/ and commit src/lib/schema.d.ts.');
    process.exit(1);
  }
  console.log('openapi: src/lib/schema.d.ts matches openapi.yaml');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
