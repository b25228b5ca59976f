// The Lambda bundles import node:http through this file (LAMBDA_ALIASES in lib/lambda-bundling.ts).
// biome-ignore lint/style/useNodejsImportProtocol: the alias catches 'node:http'; this must not loop back to itself.
module.exports = require('http');
