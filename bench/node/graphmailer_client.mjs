// graphmailer's Node package, configured from the environment as its README
// says.   node graphmailer_client.mjs cold|serial|parallel [COUNT]
import { createRequire } from 'node:module'

import { MAILBOXES, drive } from './common.mjs'

// The package from this workspace (bench/run.sh builds its release addon).
const { Mailer } = createRequire(import.meta.url)('../../node/index.js')

const mailer = Mailer.fromEnv()
await drive((i) =>
  mailer.send({ from: MAILBOXES[i % MAILBOXES.length], to: 'bench@example.com', subject: 'bench', text: 'x' }),
)
