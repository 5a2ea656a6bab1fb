/** test/server/roundtrip.property.test.ts again with the fast path off (SLUICE_FAST_PATH=0). */
process.env.SLUICE_FAST_PATH = '0'
await import('./roundtrip.property.test.js')
