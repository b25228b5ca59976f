// The Lambda bundles import node:http through this file (LAMBDA_ALIASES in lib/lambda-bundling.ts).
module.exports = require('http');
