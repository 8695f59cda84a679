// `npm pack` makes a tarball that installs into an empty project and works
// there with both `require` and `import`.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'

import { Emulator, packageDir, ALLOWED } from './emulator.mjs'

const run = promisify(execFile)
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const quiet = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }

let emu
let work
before(async () => {
  emu = await Emulator.start()
  work = mkdtempSync(join(tmpdir(), 'graphmailer-pack-'))
})
after(async () => {
  await emu?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

/** The package's top-level files, with the addon's debug symbols stripped to keep the tarball small. */
async function stage() {
  const dir = join(work, 'stage')
  mkdirSync(dir)
  for (const name of readdirSync(packageDir)) {
    const from = join(packageDir, name)
    if (!statSync(from).isFile()) continue
    if (name.endsWith('.node')) {
      await run('strip', ['--strip-debug', '-o', join(dir, name), from]).catch(() => copyFileSync(from, join(dir, name)))
    } else {
      copyFileSync(from, join(dir, name))
    }
  }
  return dir
}

test('the packed tarball installs into an empty project; require and import both work', async () => {
  const staged = await stage()
  const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', work], { cwd: staged, env: quiet, maxBuffer: 1 << 24 })
  const [packed] = JSON.parse(stdout)
  const files = packed.files.map((f) => f.path).sort()
  assert.deepEqual(files, [
    'README.md',
    'binding.js',
    'graphmailer.linux-x64-gnu.node',
    'index.d.mts',
    'index.d.ts',
    'index.js',
    'index.mjs',
    'package.json',
  ])
  const tarball = join(work, packed.filename)

  const project = join(work, 'consumer')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
  await run(npm, ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project, env: quiet })

  const env = {
    PATH: process.env.PATH,
    AZURE_TENANT_ID: emu.banner.tenant_id,
    AZURE_CLIENT_ID: emu.banner.client_id,
    AZURE_CLIENT_SECRET: emu.banner.client_secret,
    AZURE_AUTHORITY_HOST: emu.url,
    GRAPHMAILER_GRAPH_ENDPOINT: emu.url,
  }
  writeFileSync(
    join(project, 'send.cjs'),
    `const { Mailer, version } = require('graphmailer')
Mailer.fromEnv().send({ from: '${ALLOWED}', to: 'a@example.com', subject: 'from require', text: 'x' })
  .then((r) => console.log(JSON.stringify({ version, attempts: r.attempts, at: require.resolve('graphmailer') })))
`,
  )
  writeFileSync(
    join(project, 'send.mjs'),
    `import graphmailer, { Mailer, version, errorCodes } from 'graphmailer'
const r = await new Mailer({
  tenantId: process.env.AZURE_TENANT_ID, clientId: process.env.AZURE_CLIENT_ID, clientSecret: process.env.AZURE_CLIENT_SECRET,
  authorityHost: process.env.AZURE_AUTHORITY_HOST, graphEndpoint: process.env.GRAPHMAILER_GRAPH_ENDPOINT,
}).send({ from: '${ALLOWED}', to: 'a@example.com', subject: 'from import', text: 'x' })
console.log(JSON.stringify({ version, attempts: r.attempts, same: graphmailer.Mailer === Mailer, codes: errorCodes.length, at: import.meta.resolve('graphmailer') }))
`,
  )
  const cjs = JSON.parse((await run(process.execPath, ['send.cjs'], { cwd: project, env })).stdout)
  const esm = JSON.parse((await run(process.execPath, ['send.mjs'], { cwd: project, env })).stdout)
  const installed = realpathSync(join(project, 'node_modules', 'graphmailer'))
  assert.equal(cjs.at, join(installed, 'index.js'))
  assert.equal(esm.at, `file://${join(installed, 'index.mjs')}`)
  assert.equal(cjs.version, esm.version)
  assert.deepEqual([cjs.attempts, esm.attempts, esm.same, esm.codes], [1, 1, true, 10])
  assert.deepEqual((await emu.messages()).map((m) => m.message.subject).sort(), ['from import', 'from require'])
})
