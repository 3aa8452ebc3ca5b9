#!/usr/bin/env bash
# Builds the libFuzzer harnesses into .build-fuzz/ (git-ignored):
#   .build-fuzz/http-fuzzer   HTTP request parser (Sources/HTTP)
#   .build-fuzz/image-fuzzer  image decoder (Sources/Imaging + Sources/CImageCodec, -ljpeg -lpng)
# Usage: Fuzz/build.sh [http|image|all]   (default all). Needs the Swift toolchain's swiftc and
# clang (libclang_rt.fuzzer ships with it) and libjpeg/libpng development headers.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=.build-fuzz
WHAT=${1:-all}
SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-$(dirname "$(command -v "$SWIFTC")")/clang}
mkdir -p "$OUT"

build_http() {
    echo "== building $OUT/http-fuzzer"
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -module-name HTTPFuzz \
        -use-ld=lld \
        Sources/HTTP/*.swift Fuzz/HTTPParserFuzzer/main.swift -o "$OUT/http-fuzzer"
}

build_image() {
    echo "== building $OUT/image-fuzzer"
    local obj="$OUT/cimagecodec"
    mkdir -p "$obj/include"
    # The package builds CImageCodec as a clang module from include/; swiftc needs a module map.
    cat > "$obj/include/module.modulemap" <<MAP
module CImageCodec {
    header "$ROOT/Sources/CImageCodec/include/CImageCodec.h"
    export *
}
MAP
    local objects=()
    for c in Sources/CImageCodec/*.c; do
        local o="$obj/$(basename "${c%.c}").o"
        "$CLANG" -fsanitize=fuzzer-no-link,address -O1 -g -fno-omit-frame-pointer \
            -I Sources/CImageCodec/include -I Sources/CImageCodec -c "$c" -o "$o"
        objects+=("$o")
    done
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -module-name ImagingFuzz \
        -use-ld=lld -I "$obj/include" \
        Sources/Imaging/*.swift Fuzz/ImageDecoderFuzzer/main.swift "${objects[@]}" \
        -ljpeg -lpng -o "$OUT/image-fuzzer"
}

case "$WHAT" in
    http) build_http ;;
    image) build_image ;;
    all) build_http; build_image ;;
    *) echo "usage: $0 [http|image|all]" >&2; exit 2 ;;
esac
