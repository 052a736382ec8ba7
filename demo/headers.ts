/**
 * Cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, which tfjs's threaded wasm needs. The dev
 * server and `vite preview` send these; a static host of demo/dist must send the same two headers (the e2e tests'
 * server does).
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};
