// plotly.js with only the trace types Funnelscope's figures use (landscapes/plots/): the page
// parses about 1.8 MB of script instead of the full 4.8 MB bundle Dash would load.
// tests/unit/test_plotly_bundle.py checks this list against the figure builders.
'use strict';

var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/surface'),
    require('plotly.js/lib/scatter3d'),
    require('plotly.js/lib/isosurface'),
    require('plotly.js/lib/contour'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/histogram'),
]);

module.exports = Plotly;
