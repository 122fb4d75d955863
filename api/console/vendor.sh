#!/bin/sh
# Refreshes the vendored UI library in vendor/ from npm: Preact (the view
# library), its hooks, and htm (JSX-like tagged templates, so no build step).
# Only maintainers run this; hookd's build and tests use the files as
# committed. The hooks module imports "preact" by bare name; browsers need
# a path, and an import map would be an inline script, which the console's
# CSP forbids, so the import is rewritten to the file beside it.
set -eu
PREACT=10.29.8
HTM=3.1.1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y > /dev/null
npm install --silent --no-audit --no-fund "preact@$PREACT" "htm@$HTM"
cp node_modules/preact/dist/preact.module.js "$here/vendor/preact.module.js"
sed 's#from"preact"#from"./preact.module.js"#' node_modules/preact/hooks/dist/hooks.module.js > "$here/vendor/hooks.module.js"
cp node_modules/htm/dist/htm.module.js "$here/vendor/htm.module.js"
cp node_modules/preact/LICENSE "$here/vendor/LICENSE.preact"
cp node_modules/htm/LICENSE "$here/vendor/LICENSE.htm"
# The source maps are not shipped: drop their comments.
sed -i '/^\/\/# sourceMappingURL=/d' "$here"/vendor/*.js
echo "vendored preact $PREACT and htm $HTM"
