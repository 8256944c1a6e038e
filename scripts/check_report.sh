#!/usr/bin/env bash
# Render a galinfo report in headless Chromium (Debian's `chromium` package) and save a screenshot,
# to check by eye that the page and its embedded figures display in a real browser.
#   scripts/check_report.sh [runs/quickstart/report.html] [OUT.png]
set -euo pipefail
report=${1:-runs/quickstart/report.html}
out=${2:-${report%.html}.png}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "chromium not found: apt-get install chromium" >&2
    exit 2
fi
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,5000 \
    --screenshot="$out" "file://$(realpath "$report")" 2>/dev/null
echo "wrote $out"
