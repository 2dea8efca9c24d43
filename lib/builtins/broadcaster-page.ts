/**
 * The small page a broadcaster's endpoint serves at `/` when its spec says `page: true`: it loads
 * the official Phoenix client from `/phoenix.mjs`, lets a person join a topic and shows each event
 * as it arrives, with its push-to-receipt latency (the payload's `ts`, when it has one).
 *
 * The page carries a connect token signed for it (assigns `{ page: true }`, valid one hour), so
 * anyone who can load the page can connect: it is for demos and local inspection, which is why it
 * is off unless asked for.
 * @internal
 */
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { signToken } from '../channels/token.js'

/** How long the page's token is valid. */
const PAGE_TOKEN_SECONDS = 3600

let phoenixSource: string | undefined

/**
 * Answers 405 to anything but GET and HEAD on a read-only route (true when it did): a client that
 * POSTs by mistake should learn it, not read a page or a health it did not ask for.
 */
export function refusedMethod (req: IncomingMessage, res: ServerResponse, path: string): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false
  res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' })
  res.end(`${path} answers GET and HEAD, not ${req.method ?? 'an unnamed method'}\n`)
  return true
}

/** Answers `/` and `/phoenix.mjs` (405 for other methods than GET and HEAD); false for any other path. */
export function servePage (req: IncomingMessage, res: ServerResponse, secret: string, socketPath: string): boolean {
  const path = (req.url ?? '/').split('?')[0]
  if (path !== '/' && path !== '/phoenix.mjs') return false
  if (refusedMethod(req, res, path)) return true
  if (path === '/') {
    const token = signToken({ page: true }, secret, { maxAgeSeconds: PAGE_TOKEN_SECONDS })
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
    res.end(html(token, socketPath))
    return true
  }
  if (path === '/phoenix.mjs') {
    phoenixSource ??= readFileSync(fileURLToPath(import.meta.resolve('phoenix')), 'utf8')
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' })
    res.end(phoenixSource)
    return true
  }
  return false
}

function html (token: string, socketPath: string): string {
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>stagewire</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222 }
  input { font: inherit; padding: .2rem .4rem; width: 16rem }
  table { border-collapse: collapse; margin-top: 1rem; width: 100% }
  td, th { text-align: left; padding: .15rem .5rem; border-bottom: 1px solid #eee; font-variant-numeric: tabular-nums }
  td.data { font-family: ui-monospace, monospace; font-size: 12px; color: #555; max-width: 40rem; overflow: hidden; white-space: nowrap; text-overflow: ellipsis }
  #status { color: #777 }
</style>
<h1>stagewire</h1>
<p id="status">connecting…</p>
<form id="join"><input id="topic" value="feed:" aria-label="topic"> <button>join</button> <button type="button" id="leave">leave</button></form>
<p>received <b id="count">0</b> · latency p50 <b id="p50">–</b> ms · max <b id="max">–</b> ms</p>
<table><thead><tr><th>topic</th><th>event</th><th>latency ms</th><th>payload</th></tr></thead><tbody id="rows"></tbody></table>
<script type="module">
  import { Socket } from '/phoenix.mjs'
  const socket = new Socket(${JSON.stringify(socketPath)}, { params: { token: ${JSON.stringify(token)} } })
  const status = document.getElementById('status')
  socket.onOpen(() => { status.textContent = 'connected' })
  socket.onError(() => { status.textContent = 'connection error (retrying)' })
  socket.connect()
  const latencies = []
  let count = 0
  let channel = null
  function show (topic, event, payload) {
    count++
    const ts = typeof payload.ts === 'number' ? payload.ts : null
    const latency = ts === null ? null : performance.timeOrigin + performance.now() - ts
    if (latency !== null) { latencies.push(latency); if (latencies.length > 1000) latencies.shift() }
    const row = document.createElement('tr')
    for (const text of [topic, event, latency === null ? '' : latency.toFixed(1), JSON.stringify(payload.data ?? payload)]) {
      const cell = document.createElement('td')
      cell.textContent = text
      row.appendChild(cell)
    }
    row.lastChild.className = 'data'
    const rows = document.getElementById('rows')
    rows.prepend(row)
    while (rows.children.length > 100) rows.lastChild.remove()
    document.getElementById('count').textContent = String(count)
    if (latencies.length > 0) {
      const sorted = [...latencies].sort((a, b) => a - b)
      document.getElementById('p50').textContent = sorted[Math.floor(sorted.length / 2)].toFixed(1)
      document.getElementById('max').textContent = sorted[sorted.length - 1].toFixed(1)
    }
  }
  document.getElementById('join').addEventListener('submit', (e) => {
    e.preventDefault()
    if (channel !== null) channel.leave()
    const topic = document.getElementById('topic').value.trim()
    channel = socket.channel(topic, {})
    channel.onMessage = (event, payload) => {
      if (!event.startsWith('phx_') && !event.startsWith('chan_reply_')) show(topic, event, payload)
      return payload
    }
    channel.join()
      .receive('ok', () => { status.textContent = 'joined ' + topic })
      .receive('error', (r) => { status.textContent = 'refused: ' + JSON.stringify(r); channel.leave(); channel = null })
  })
  document.getElementById('leave').addEventListener('click', () => {
    if (channel !== null) { channel.leave(); channel = null; status.textContent = 'left' }
  })
</script>
</html>
`
}
