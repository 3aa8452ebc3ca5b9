#!/bin/sh
# The Dockerfile's model step, run in its build stage: lays out what the image serves under $OUT
# (Config/ with server.json and the model configs, Weights/), and, when the build arguments name a
# checkpoint, downloads or takes it, checks it and imports it with `rcnn import` as the default model.
#
# Environment (the Dockerfile's build arguments): CHECKPOINT_URL or CHECKPOINT (a file name in
# Deploy/checkpoints/), CHECKPOINT_SHA256, ARCH, NAME, CLASSES (a file name in Deploy/checkpoints/),
# IMPORT_ARGS; RCNN (the rcnn binary) and OUT (the output folder).
set -eu
: "${RCNN:?}" "${OUT:?}"
CHECKPOINT_URL="${CHECKPOINT_URL:-}" CHECKPOINT="${CHECKPOINT:-}" CHECKPOINT_SHA256="${CHECKPOINT_SHA256:-}"
ARCH="${ARCH:-}" NAME="${NAME:-}" CLASSES="${CLASSES:-}" IMPORT_ARGS="${IMPORT_ARGS:-}"

fail() { echo "container_import: $*" >&2; exit 1; }

mkdir -p "$OUT/Config/models" "$OUT/Weights"
cp Config/models/*.json "$OUT/Config/models/"
cp Weights/*.safetensors "$OUT/Weights/"
cp Config/server.json "$OUT/Config/server.json"

if [ -z "$CHECKPOINT_URL" ] && [ -z "$CHECKPOINT" ]; then
    [ -z "$ARCH$NAME$CLASSES$CHECKPOINT_SHA256$IMPORT_ARGS" ] \
        || fail "ARCH, NAME, CLASSES, CHECKPOINT_SHA256 or IMPORT_ARGS given without CHECKPOINT_URL or CHECKPOINT"
    echo "container_import: no checkpoint named; the image serves the embedded default model"
    exit 0
fi
[ -n "$CHECKPOINT_URL" ] && [ -n "$CHECKPOINT" ] && fail "give CHECKPOINT_URL or CHECKPOINT, not both"
[ -n "$ARCH" ] || fail "ARCH is required with a checkpoint (rcnn import --help lists the architectures)"
NAME="${NAME:-$ARCH}"
case "$NAME" in
    *[!A-Za-z0-9_.-]* | .* | "") fail "NAME '$NAME' may hold only letters, digits, '_', '.' and '-', and may not start with '.'" ;;
esac
[ -e "$OUT/Config/models/$NAME.json" ] && fail "NAME '$NAME' is the embedded model's name; choose another"

STAGE="$(mktemp -d)"
if [ -n "$CHECKPOINT_URL" ]; then
    case "$CHECKPOINT_URL" in
        http://* | https://*) ;;
        *) fail "CHECKPOINT_URL must be an http:// or https:// URL, got '$CHECKPOINT_URL'" ;;
    esac
    # The URL's file name is kept: torchvision's NAME-<sha256 prefix>.pth names are checked by rcnn import.
    file="${CHECKPOINT_URL%%\?*}"
    file="${file##*/}"
    [ -n "$file" ] || file=checkpoint.pth
    echo "container_import: downloading $CHECKPOINT_URL"
    curl -fSL --retry 3 --connect-timeout 30 -o "$STAGE/$file" "$CHECKPOINT_URL" \
        || fail "could not download $CHECKPOINT_URL"
    path="$STAGE/$file"
else
    case "$CHECKPOINT" in */* | .*) fail "CHECKPOINT is a file name in Deploy/checkpoints/, got '$CHECKPOINT'" ;; esac
    path="Deploy/checkpoints/$CHECKPOINT"
    [ -f "$path" ] || fail "CHECKPOINT '$CHECKPOINT' is not in Deploy/checkpoints/ of the build context"
fi
if [ -n "$CHECKPOINT_SHA256" ]; then
    echo "$CHECKPOINT_SHA256  $path" | sha256sum -c - >/dev/null \
        || fail "the checkpoint's SHA-256 is $(sha256sum "$path" | cut -d' ' -f1), not CHECKPOINT_SHA256 $CHECKPOINT_SHA256"
fi
set --
if [ -n "$CLASSES" ]; then
    case "$CLASSES" in */* | .*) fail "CLASSES is a file name in Deploy/checkpoints/, got '$CLASSES'" ;; esac
    [ -f "Deploy/checkpoints/$CLASSES" ] || fail "CLASSES '$CLASSES' is not in Deploy/checkpoints/ of the build context"
    set -- --classes "Deploy/checkpoints/$CLASSES"
fi
# IMPORT_ARGS is split on spaces on purpose: it holds flags and their values.
# shellcheck disable=SC2086
"$RCNN" import --arch "$ARCH" --name "$NAME" --out "$OUT/Config/models" "$@" $IMPORT_ARGS "$path"
rm -rf "$STAGE"

# The imported model first and the default for requests that name none; the embedded one stays.
sed -e "s|^  \"models\": .*|  \"models\": [{\"config\": \"models/$NAME.json\"}, {\"config\": \"models/shapes_mask_rcnn.json\"}],|" \
    -e "s|^  \"default_model\": .*|  \"default_model\": \"$NAME\",|" \
    Config/server.json > "$OUT/Config/server.json"
grep -q "\"default_model\": \"$NAME\"" "$OUT/Config/server.json" && grep -q "models/$NAME.json" "$OUT/Config/server.json" \
    || fail "Config/server.json no longer has the layout this script rewrites"
echo "container_import: the image serves $NAME ($ARCH) by default, and shapes_mask_rcnn"
