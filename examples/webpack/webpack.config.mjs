/**
 * webpack-dev-server (5.x) in front of `sluice serve`: the front end on :8081,
 * the API on :8080. This is the setup the guide's Vue CLI project had, where
 * "the dev proxy delivers the whole stream at the end".
 *
 * Why it buffered: the dev server gzips responses (`compress: true` is the
 * default) and gzip holds bytes back until it has enough to compress. sluice
 * marks every event stream `Cache-Control: no-transform`, which the dev
 * server's compression middleware respects, so sluice streams pass even with
 * the default; `compress: false` below makes the proxy safe for any backend.
 * The one thing the dev server gets wrong for streams is a closed tab: see
 * `onProxyReq` below. Tested by test/frontend/webpack-proxy.test.ts (events spread over time; a
 * closed tab stops the producer; the control shows compression buffering a
 * stream that lacks no-transform).
 */
const target = process.env.SLUICE_URL ?? 'http://127.0.0.1:8080'

export default {
  mode: 'development',
  entry: './src/main.js',
  devServer: {
    port: 8081,
    compress: false,
    proxy: [
      {
        context: ['/chat', '/events', '/publish', '/healthz', '/metrics'],
        target,
        changeOrigin: true,
        // The proxy (http-proxy-middleware 2 / http-proxy) listens for the
        // request's 'aborted' event, which Node no longer emits once a GET's
        // empty body has been read, so a closed tab would leave the upstream
        // stream (and its producer) running. Tear it down on close instead.
        onProxyReq(proxyReq, _req, res) {
          res.on('close', () => {
            if (!res.writableFinished) proxyReq.destroy()
          })
        },
      },
    ],
  },
}
