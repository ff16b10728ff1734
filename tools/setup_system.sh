#!/usr/bin/env bash
# Install the Debian packages the experiments read their offline data from (and the docs' browser, with --docs).
# Idempotent: only missing packages are installed. Needs root (or sudo); without either it lists what is missing and
# exits 0, so the Python set-up still runs (the tests that need a missing package then fail with a message naming it).
#   speech:  espeak-ng flite festival festvox-kallpc16k festvox-us-slt-hts   (the synthetic Speech Commands corpus)
#   images:  dataset-fashion-mnist                                          (Fashion-MNIST's four IDX files)
#   text:    bible-kjv bible-kjv-text                                        (the King James Bible: LRA Text/Retrieval, language models, BERT)
#   docs:    chromium                                                        (`make docs` screenshots; only with --docs)
set -u
PKGS="espeak-ng flite festival festvox-kallpc16k festvox-us-slt-hts dataset-fashion-mnist bible-kjv bible-kjv-text"
[ "${1:-}" = "--docs" ] && PKGS="chromium"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; else
  echo "setup_system: missing Debian packages:$missing (run as root: apt-get install -y --no-install-recommends$missing)" >&2; exit 0; fi
echo "setup_system: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
  echo "setup_system: apt-get failed for:$missing" >&2; exit 1; }
