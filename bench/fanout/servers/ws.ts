/**
 * `ws` WebSocket broadcast, the way its README does it: one text frame per
 * client per message, waiting for the socket to drain when its buffer fills.
 */
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import { drainAll, serveVariant } from './common.js'

await serveVariant((server) => {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (client) => {
      client.send('ok')
    })
  })
  // ws keeps no public drain event; its socket is the honest backpressure signal.
  const socketOf = (c: WebSocket) => (c as unknown as { _socket: Duplex })._socket
  return {
    handler(_req, res) {
      res.writeHead(426, { 'content-type': 'application/json' })
      res.end('{"error":"upgrade_required","message":"connect with WebSocket"}')
    },
    fanout: {
      count: () => wss.clients.size,
      publish(data) {
        for (const client of wss.clients) {
          if (client.readyState === WebSocket.OPEN) client.send(data)
        }
        return drainAll(wss.clients, socketOf)
      },
    },
  }
})
