// Prisma runs here with engineType = "client" and the WebAssembly schema engine:
// no native engine is ever executed. PRISMA_*_ENGINE_* point at this file only so
// `prisma generate` does not try to download one.
console.error('account-gateway: no native Prisma engine is used (engineType = "client").');
process.exit(1);
