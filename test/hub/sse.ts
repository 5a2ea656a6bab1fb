/** Publishing to the hub over HTTP, for the hub tests (reading: test/helpers/sse.ts). */

export async function publish(
  base: string,
  topic: string,
  data: unknown,
  opts: { event?: string; token?: string } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  const res = await fetch(base + '/publish', {
    method: 'POST',
    headers,
    body: JSON.stringify({ topic, data, event: opts.event }),
  })
  return { status: res.status, body: await res.json() }
}
