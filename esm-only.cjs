// What `require('sam2long')` loads: the package is ES modules only (it starts tfjs backends with top-level await).
const error = new Error(
  "sam2long is an ES module package and cannot be loaded with require(): use `import { ... } from 'sam2long'`, " +
  "or `const sam2long = await import('sam2long')` from CommonJS.",
);
error.code = 'ERR_REQUIRE_ESM';
throw error;
