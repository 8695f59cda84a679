// The TypeScript example in the project's README, compiled with tsc and run
// against the emulator as written: the environment it reads points at the
// emulator, and the README's contoso.com mailboxes become the emulator's
// contoso.test (the one substitution).

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'

import { Emulator, packageDir, repoDir } from './emulator.mjs'

const run = promisify(execFile)
const tsc = join(packageDir, 'node_modules', 'typescript', 'bin', 'tsc')
const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n% invoice 4711\n'), Buffer.from([...Array(256).keys()])])

function readmeTypeScript() {
  const readme = readFileSync(join(repoDir, 'README.md'), 'utf8')
  return readme
    .split('```ts\n')
    .slice(1)
    .map((block) => block.split('\n```')[0])
}

let emu
let dir
before(async () => {
  emu = await Emulator.start()
  // Inside the package, so `import ... from 'graphmailer'` resolves to it.
  dir = mkdtempSync(join(packageDir, '.tsbuild-readme-'))
  writeFileSync(join(dir, 'invoice-4711.pdf'), pdf)
})
after(async () => {
  await emu?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Compiles `source` as an ES module with the package's tsconfig; gives the script's path. */
async function compile(name, source) {
  writeFileSync(join(dir, `${name}.mts`), source)
  writeFileSync(
    join(dir, `tsconfig.${name}.json`),
    JSON.stringify({
      extends: '../tsconfig.json',
      // The declarations are checked by the suite's own tsc run.
      compilerOptions: { noEmit: false, outDir: 'out', rootDir: '.', skipLibCheck: true },
      include: [`${name}.mts`],
    }),
  )
  await run(process.execPath, [tsc, '-p', join(dir, `tsconfig.${name}.json`)], { cwd: dir })
  return join(dir, 'out', `${name}.mjs`)
}

function environment() {
  return {
    PATH: process.env.PATH,
    AZURE_TENANT_ID: emu.banner.tenant_id,
    AZURE_CLIENT_ID: emu.banner.client_id,
    AZURE_CLIENT_SECRET: emu.banner.client_secret,
    AZURE_AUTHORITY_HOST: emu.url,
    GRAPHMAILER_GRAPH_ENDPOINT: emu.url,
  }
}

test('the README has one TypeScript example', () => {
  const blocks = readmeTypeScript()
  assert.equal(blocks.length, 1)
  assert.match(blocks[0], /mailer\.send\(/)
  assert.match(blocks[0], /erp@contoso\.com/)
})

test('the README example, compiled, sends the invoice through the emulator', async () => {
  const script = await compile('sent', readmeTypeScript()[0].replaceAll('contoso.com', 'contoso.test'))
  const { stdout, stderr } = await run(process.execPath, [script], { cwd: dir, env: environment() })
  assert.equal(stderr, '')
  assert.match(stdout, /^accepted, request id \S+\n$/)
  const [stored, ...more] = await emu.messages()
  assert.deepEqual(more, [])
  assert.equal(stored.mailbox, 'erp@contoso.test')
  assert.equal(stored.message.subject, 'Invoice 4711')
  assert.deepEqual(stored.message.toRecipients, [
    { emailAddress: { name: 'Accounts Payable', address: 'ap@fabrikam.example' } },
  ])
  const [attachment] = stored.message.attachments
  assert.equal(attachment.name, 'invoice-4711.pdf')
  assert.deepEqual(Buffer.from(attachment.contentBytes, 'base64'), pdf)
})

test('the README example explains a refusal with its code, request id and hint', async () => {
  // The emulator's ERP app may not send as the CEO.
  const source = readmeTypeScript()[0].replaceAll('erp@contoso.com', 'ceo@contoso.test')
  const script = await compile('refused', source)
  const before = (await emu.messages()).length
  const { stdout, stderr } = await run(process.execPath, [script], { cwd: dir, env: environment() })
  assert.equal(stdout, '')
  assert.match(stderr, /^ERR_ACCESS_DENIED ErrorAccessDenied \S+ .*ceo@contoso\.test/)
  assert.equal((await emu.messages()).length, before)
})
