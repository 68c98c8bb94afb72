#!/usr/bin/env bash
# Build dependencies outside Go modules: the XSD validator (internal/xsd)
# links libxml2 and the RSA signer (internal/libcrypto) links OpenSSL's
# libcrypto through cgo. Installs them from Debian's packages if absent.
set -euo pipefail
missing=()
command -v gcc >/dev/null || missing+=(gcc)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists libxml-2.0 2>/dev/null || missing+=(libxml2-dev)
pkg-config --exists libcrypto 2>/dev/null || missing+=(libssl-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing build dependencies: ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
