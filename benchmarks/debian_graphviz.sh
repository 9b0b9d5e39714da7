#!/usr/bin/env bash
# Unpack Debian's Graphviz (2.43 on bookworm) into benchmarks/_work for the plot_model baseline.
# Nothing is installed system-wide: the baseline alone gets it on PATH. Needs apt's package lists.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/_work/graphviz-debian"
[ -x "$dest/root/usr/bin/dot" ] && exit 0
mkdir -p "$dest/debs" && cd "$dest/debs"
apt-get download graphviz libgvc6 libcgraph6 libcdt5 libpathplan4 libxdot4 liblab-gamut1 libann0 \
  libgts-0.7-5 libgvpr2 libltdl7 libgd3 libpangocairo-1.0-0 libpango-1.0-0 libcairo2 libxpm4 \
  libpangoft2-1.0-0 libfribidi0 libthai0 libharfbuzz0b libdatrie1 libgraphite2-3 libpixman-1-0 \
  libxcb-render0 libxcb-shm0 libxrender1 libxext6 libx11-6 libxcb1 libxau6 libxdmcp6 libwebp7 \
  libtiff6 libjbig0 libdeflate0 liblerc4 libjpeg62-turbo libfontconfig1 libfreetype6 libpng16-16 \
  libbrotli1 >/dev/null 2>&1
for f in *.deb; do dpkg -x "$f" "$dest/root"; done
lib="$dest/root/usr/lib/x86_64-linux-gnu"
LD_LIBRARY_PATH="$lib" GVBINDIR="$lib/graphviz" "$dest/root/usr/bin/dot" -c
LD_LIBRARY_PATH="$lib" GVBINDIR="$lib/graphviz" "$dest/root/usr/bin/dot" -V
