// Bundles entry.js into ../app/assets/plotly-partial.min.js: the settings of plotly.js's own
// build (esbuild-config.js in its package), minified; CSS that only map traces need is dropped.
'use strict';

const path = require('path');

require('esbuild').build({
    entryPoints: [path.join(__dirname, 'entry.js')],
    outfile: path.join(__dirname, '..', 'app', 'assets', 'plotly-partial.min.js'),
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    loader: {'.css': 'empty'},
    alias: {regl: '@plotly/regl', stream: 'stream-browserify'},
    define: {global: 'window', 'define.amd': 'false', 'process.env.NODE_DEBUG': 'false'},
    target: 'es2016',
    logLevel: 'warning',
}).catch(() => process.exit(1));
