#!/usr/bin/env bash
# Fetches @vladmandic/face-api 1.7.15 (MIT) into .cache/face-api-1.7.15/package/ (git-ignored): the
# pretrained face-recognition weights (model/face_recognition_model*), the original JS library that
# tests/reference/make_faceapi.mjs runs, and its demo photos. See ../../shared/spec/FACEAPI_NET.md.
#
# Idempotent: a present copy whose weight files pass their sha256 is left alone. Atomic: the package is
# downloaded and unpacked into a temporary folder beside the target and renamed into place only after
# every check passed, so an interrupted run never leaves a half copy where the tests look.
# Uses `npm pack` when npm exists, else curl or wget on the registry's tarball; either way the tarball
# must match the registry's published sha512 integrity before it is unpacked.
# Prints the folder that holds the package on the last line.
set -euo pipefail

version=1.7.15
tarball_url="https://registry.npmjs.org/@vladmandic/face-api/-/face-api-${version}.tgz"
tarball_sha512="5833262b709f34ba3c8f2956a8ca1081fe2722cb773347f3c7576769cf7ac2ffddbcc4cde03c42fcfab50c6b5db83935964b426a64373080d7167beb7474d70f"
declare -A weight_sha256=(
  [face_recognition_model-weights_manifest.json]=cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b
  [face_recognition_model.bin]=b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589
)

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache"
target="$cache/face-api-$version"

# True when $1/package/model holds both weight files with the expected sha256.
verified() {
  local file
  for file in "${!weight_sha256[@]}"; do
    [[ -f "$1/package/model/$file" ]] || return 1
    [[ "$(sha256sum "$1/package/model/$file" | cut -d' ' -f1)" == "${weight_sha256[$file]}" ]] || return 1
  done
}

if verified "$target"; then
  echo "fetch_faceapi: face-api $version already present and verified"
  echo "$target/package"
  exit 0
fi
if [[ -e "$target" ]]; then
  echo "fetch_faceapi: $target exists but fails verification; fetching it again" >&2
fi

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.face-api-$version.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

tgz="$tmp/face-api-$version.tgz"
if command -v npm >/dev/null; then
  echo "fetch_faceapi: npm pack @vladmandic/face-api@$version"
  name="$(cd "$tmp" && npm pack --silent "@vladmandic/face-api@$version" | tail -n 1)"
  mv "$tmp/$name" "$tgz"
elif command -v curl >/dev/null; then
  echo "fetch_faceapi: curl $tarball_url"
  curl -fsSL --retry 3 -o "$tgz" "$tarball_url"
elif command -v wget >/dev/null; then
  echo "fetch_faceapi: wget $tarball_url"
  wget -q -O "$tgz" "$tarball_url"
else
  echo "fetch_faceapi: error: need npm, curl or wget to download $tarball_url" >&2
  exit 1
fi

actual="$(sha512sum "$tgz" | cut -d' ' -f1)"
if [[ "$actual" != "$tarball_sha512" ]]; then
  echo "fetch_faceapi: error: $tgz has sha512 $actual, the registry publishes $tarball_sha512" >&2
  exit 1
fi

mkdir "$tmp/unpacked"
tar -xzf "$tgz" -C "$tmp/unpacked" --no-same-owner
if ! verified "$tmp/unpacked"; then
  echo "fetch_faceapi: error: the weight files in $tgz do not have the sha256 of FACEAPI_NET.md" >&2
  exit 1
fi

rm -rf "$target"
mv "$tmp/unpacked" "$target"
echo "fetch_faceapi: face-api $version unpacked and verified"
echo "$target/package"
