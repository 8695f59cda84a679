// The checked-in TypeScript declarations stay true: tsc checks the example
// and the ES module entry's types; the example, compiled, runs against the
// emulator; every runtime export is declared; and index.d.ts is what napi-rs
// generates from the Rust sources (when test.sh rebuilt it).

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'

import { Emulator, packageDir, ALLOWED, DENIED } from './emulator.mjs'

const run = promisify(execFile)
const tsc = join(packageDir, 'node_modules', 'typescript', 'bin', 'tsc')
const require = createRequire(import.meta.url)

let emu
before(async () => {
  emu = await Emulator.start()
})
after(async () => {
  await emu?.stop()
  rmSync(join(packageDir, '.tsbuild'), { recursive: true, force: true })
})

// One compile serves the type check and the example's run: tsc checks the
// same way whether or not it writes the JavaScript.
const out = join(packageDir, '.tsbuild')
let compiling
const compiled = () =>
  (compiling ??= run(process.execPath, [tsc, '-p', join(packageDir, 'tsconfig.json'), '--noEmit', 'false', '--outDir', out, '--rootDir', packageDir], { cwd: packageDir }))

test('tsc accepts the example and the ESM type checks', async () => {
  const { stdout } = await compiled()
  assert.equal(stdout.trim(), '')
})

test('tsc refuses a mistyped call, so the check above means something', async () => {
  const dir = mkdtempSync(join(packageDir, '.tsbuild-wrong-'))
  try {
    writeFileSync(
      join(dir, 'wrong.ts'),
      "import { Mailer } from 'graphmailer'\nconst m = new Mailer({ tenantId: 't', clientId: 'c', timeout: '30s' })\nvoid m.send({ from: 1 })\n",
    )
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: '../tsconfig.json', include: ['wrong.ts'] }),
    )
    const failure = await run(process.execPath, [tsc, '--noEmit', '-p', join(dir, 'tsconfig.json')], { cwd: dir }).then(
      () => assert.fail('tsc accepted a wrong call'),
      (e) => e,
    )
    // Line 2: `timeout` must be a number; line 3: `from` must be a string.
    assert.match(failure.stdout, /wrong\.ts\(2,\d+\): error TS2322/)
    assert.match(failure.stdout, /wrong\.ts\(3,\d+\): error TS2322/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the TypeScript example, compiled, sends through the emulator and explains a refusal', async () => {
  await compiled()
  const script = join(out, 'examples', 'send.js')
  assert.ok(existsSync(script))
  const env = {
    PATH: process.env.PATH,
    AZURE_TENANT_ID: emu.banner.tenant_id,
    AZURE_CLIENT_ID: emu.banner.client_id,
    AZURE_CLIENT_SECRET: emu.banner.client_secret,
    AZURE_AUTHORITY_HOST: emu.url,
    GRAPHMAILER_GRAPH_ENDPOINT: emu.url,
    GRAPHMAILER_TO: 'accounts@example.com',
  }
  const ok = await run(process.execPath, [script], { env: { ...env, GRAPHMAILER_FROM: ALLOWED } })
  assert.match(ok.stdout, /accepted after 1 attempt\(s\), request id \S+/)
  const [stored] = await emu.messages()
  assert.equal(stored.message.subject, 'Invoice 4711')
  assert.equal(stored.message.attachments.length, 2)
  const refused = await run(process.execPath, [script], { env: { ...env, GRAPHMAILER_FROM: DENIED } }).then(
    () => assert.fail('the example should exit 1'),
    (e) => e,
  )
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /^ERR_ACCESS_DENIED: the tenant does not let this app send as this mailbox/m)
  assert.match(refused.stderr, /^hint: /m)
  assert.match(refused.stderr, /^request id for Microsoft support: \S+/m)
})

test('every runtime export is declared in index.d.ts, and every declared value exists', () => {
  const dts = readFileSync(join(packageDir, 'index.d.ts'), 'utf8')
  const declared = new Set(
    [...dts.matchAll(/^export declare (?:const|function|class) (\w+)/gm)].map((m) => m[1]),
  )
  const runtime = require('../index.js')
  assert.deepEqual([...declared].sort(), Object.keys(runtime).sort())
  for (const [cls, proto] of [
    ['Mailer', runtime.Mailer.prototype],
    ['ClientCertificate', runtime.ClientCertificate.prototype],
  ]) {
    const body = dts.slice(dts.indexOf(`export declare class ${cls} {`))
    const members = body.slice(0, body.indexOf('\n}'))
    for (const name of Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor')) {
      assert.match(members, new RegExp(`^  (get )?${name}\\(`, 'm'), `${cls}.${name} is not declared`)
    }
  }
})

test('index.d.ts is what napi-rs generates from the Rust sources', (t) => {
  const before = process.env.GRAPHMAILER_DTS_CHECKED_IN
  if (!before) {
    t.skip('run through test.sh, which keeps the checked-in copy before rebuilding')
    return
  }
  const generated = readFileSync(join(packageDir, 'index.d.ts'), 'utf8')
  assert.equal(
    readFileSync(before, 'utf8'),
    generated,
    'index.d.ts changed when rebuilt: commit the regenerated file',
  )
})
