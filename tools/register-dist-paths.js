// Resolves the @kiln/* aliases of tsconfig.base.json to the compiled libraries in dist/, for `node -r`.
const path = require('node:path');
const { register } = require('tsconfig-paths');
const { compilerOptions } = require('../tsconfig.base.json');

const dist = path.resolve(__dirname, '..', 'dist');
const paths = Object.fromEntries(Object.entries(compilerOptions.paths).map(([alias, targets]) => [alias, targets.map((t) => t.replace(/\.ts$/, '.js'))]));
register({ baseUrl: dist, paths, addMatchAll: false });
