// What every Node client of the benchmark shares: its arguments, the body and
// mailboxes, and the one JSON line it prints (see bench/README.md).

export const IN_FLIGHT = 16
export const MAILBOXES = [1, 2, 3, 4].map((i) => `bench${i}@contoso.test`)
export const BODY = JSON.stringify({
  message: {
    subject: 'bench',
    body: { contentType: 'Text', content: 'x' },
    toRecipients: [{ emailAddress: { address: 'bench@example.com' } }],
  },
  saveToSentItems: true,
})
export const SCOPE = 'https://graph.microsoft.com/.default'

export function args() {
  const mode = process.argv[2] ?? 'serial'
  const count = Number(process.argv[3] ?? 1000)
  if (!['cold', 'serial', 'parallel'].includes(mode)) {
    console.error(`unknown mode ${mode}; usage: ${process.argv[1]} cold|serial|parallel [COUNT]`)
    process.exit(2)
  }
  return { mode, count }
}

export function env(name) {
  const value = process.env[name]
  if (!value) {
    console.error(`${name} is not set`)
    process.exit(2)
  }
  return value
}

function cpuUs() {
  const { user, system } = process.cpuUsage()
  return user + system
}

export function acceptedNow() {
  // process.hrtime reads CLOCK_MONOTONIC, the clock the runner reads too.
  console.log(JSON.stringify({ first_accepted_ns: Number(process.hrtime.bigint()) }))
}

// Runs the three modes around `send(i)`: one send outside the clock first,
// then COUNT one at a time, or COUNT with 16 in flight after a cold burst.
export async function drive(send) {
  const { mode, count } = args()
  if (mode === 'cold') {
    await send(0)
    acceptedNow()
    return
  }
  if (mode === 'serial') {
    await send(0)
  } else {
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => send(i)))
  }
  const cpu = cpuUs()
  const start = process.hrtime.bigint()
  if (mode === 'serial') {
    for (let i = 0; i < count; i++) await send(0)
  } else {
    let next = 0
    const lane = async () => {
      while (next < count) await send(next++)
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  console.log(JSON.stringify({ count, seconds, cpu_us: cpuUs() - cpu }))
}
