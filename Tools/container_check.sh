#!/usr/bin/env bash
# Builds the real Dockerfile with podman and checks the image as a user would: health, readiness,
# the model list, a detection with masks, the non-root user, the stripped binary, the health check
# (also after RCNN_PORT changes), a clean exit on SIGTERM, the build context, and a second build that
# downloads a torchvision checkpoint over loopback HTTP through the CHECKPOINT_URL build argument,
# imports it with `rcnn import` and serves it with the same detections as `rcnn detect` on the host.
#
# No container registry is reachable from these machines, so the two base images are stand-ins made
# here: debian:bookworm-slim by debootstrap (minbase), and swift:6.3.1-bookworm by debootstrap plus
# this machine's toolchain (/opt/swift, which must be the version the Dockerfile names) and, in place
# of GitHub, this machine's package mirror (/opt/swift-packages, the packages Package.swift pins).
# They are made once and kept in podman's storage (--fresh-bases makes them again).
#
#   bash Tools/container_check.sh [--fresh-bases] [--bases-only] [--keep]
#
# --bases-only makes the stand-in base images and stops; --keep leaves the containers running.
#
# Needs root, podman, runc, debootstrap and curl (installed with apt when missing), the host's
# release build of rcnn (built when missing) and /usr/bin/python3 with torchvision (to write the
# checkpoint). Takes about 15 minutes on 2 cores with the bases made, most of it the image's release
# build. Prints one line per check and "N passed, N failed" at the end; exits non-zero on a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
FRESH=0 KEEP=0 BASES_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --fresh-bases) FRESH=1 ;;
        --bases-only) BASES_ONLY=1 ;;
        --keep) KEEP=1 ;;
        *) echo "usage: $0 [--fresh-bases] [--bases-only] [--keep]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "container_check: run as root (podman with runc, debootstrap)" >&2; exit 2; }

SWIFT_TAG="$(sed -n 's/^FROM swift:\([^ ]*\) AS build$/\1/p' Dockerfile)"
SWIFT_VERSION="${SWIFT_TAG%%-*}"
[ -n "$SWIFT_TAG" ] || { echo "container_check: no 'FROM swift:TAG AS build' line in the Dockerfile" >&2; exit 2; }
HOST_SWIFT="$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9.]*\).*/\1/p' | head -n 1)"
if [ "$HOST_SWIFT" != "$SWIFT_VERSION" ]; then
    echo "container_check: the Dockerfile builds with Swift $SWIFT_VERSION but this machine has $HOST_SWIFT; the pin and the tested toolchain must agree" >&2
    exit 1
fi

missing=()
for tool in podman runc debootstrap curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "container_check: installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap curl >/dev/null
fi

WORK="${RCNN_CONTAINER_WORK:-/var/tmp/rcnn-container-check}"
mkdir -p "$WORK"
# podman on these machines: crun refuses hybrid cgroups, and raising a limit is not permitted (no
# CAP_SYS_RESOURCE; RLIMIT_NPROC was refused here above about 40000 although the shell's is 96369),
# so runc with limits no higher than this shell's open files and 16384 processes.
nofile="$(ulimit -Hn)"; nproc="$(ulimit -Hu)"
[ "$nofile" = unlimited ] && nofile=65536
[ "$nproc" = unlimited ] || [ "$nproc" -gt 16384 ] && nproc=16384
cat > "$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$WORK/containers.conf"

PASS=0 FAIL=0
check() { # check NAME COMMAND...: runs the command, counts and prints the outcome
    local name="$1"; shift
    if "$@" >"$WORK/check.out" 2>&1; then
        PASS=$((PASS + 1)); echo "ok    $name"
    else
        FAIL=$((FAIL + 1)); echo "FAIL  $name"; sed 's/^/      /' "$WORK/check.out" | tail -n 20
    fi
}
elapsed() { echo $(( $(date +%s) - $1 ))s; }

# ---- stand-in base images ----------------------------------------------------------------------
SLIM=docker.io/library/debian:bookworm-slim
SWIFT=docker.io/library/swift:$SWIFT_TAG
MIRROR=http://deb.debian.org/debian
make_slim() {
    local dir="$WORK/rootfs-slim"
    rm -rf "$dir"
    debootstrap --variant=minbase bookworm "$dir" "$MIRROR" >"$WORK/debootstrap-slim.log"
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin
    tar -C "$dir" -c . | podman import -q --change 'CMD ["bash"]' - "$SLIM" >/dev/null
    rm -rf "$dir"
}
make_swift() {
    local dir="$WORK/rootfs-swift"
    rm -rf "$dir"
    # The packages the published Swift image carries for building (compiler, C headers, git, pkg-config).
    debootstrap --variant=minbase \
        --include=binutils,git,gnupg2,libc6-dev,libcurl4-openssl-dev,libedit2,libgcc-12-dev,libsqlite3-0,libstdc++-12-dev,libxml2-dev,libncurses-dev,libz3-dev,pkg-config,tzdata,zlib1g-dev,ca-certificates \
        bookworm "$dir" "$MIRROR" >"$WORK/debootstrap-swift.log"
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin
    # The toolchain at /usr as in the published image, less the debugger and editor services.
    tar -C /opt/swift/usr -c \
        --exclude='bin/lldb*' --exclude='bin/sourcekit-lsp' --exclude='bin/clangd' --exclude='bin/docc' \
        --exclude='bin/repl_swift' --exclude='lib/liblldb*' --exclude='lib/libsourcekitdInProc*' . \
        | tar -C "$dir/usr" -x
    # GitHub stand-in: the mirror's copies of the pinned packages, reached by their GitHub URLs.
    local pkg
    for pkg in $(sed -n 's|.*\.package(url: "https://github.com/\([^"]*\)".*|\1|p' Package.swift); do
        mkdir -p "$dir/opt/swift-packages/$(dirname "$pkg")"
        cp -a "/opt/swift-packages/$pkg.git" "$dir/opt/swift-packages/$pkg.git"
    done
    printf '[url "/opt/swift-packages/"]\n\tinsteadOf = https://github.com/\n[safe]\n\tdirectory = *\n' > "$dir/etc/gitconfig"
    tar -C "$dir" -c . | podman import -q --change 'CMD ["bash"]' - "$SWIFT" >/dev/null
    rm -rf "$dir"
}
for image in "$SLIM" "$SWIFT"; do
    if [ "$FRESH" = 1 ] || ! podman image exists "$image"; then
        t0=$(date +%s)
        if [ "$image" = "$SLIM" ]; then make_slim; else make_swift; fi
        echo "made stand-in $image in $(elapsed "$t0")"
    fi
done
[ "$BASES_ONLY" = 1 ] && exit 0

# ---- the build context ---------------------------------------------------------------------------
# .dockerignore keeps version control, build folders and stray checkpoints out of the context.
CTX_PROBE="$WORK/context.Containerfile"
printf 'FROM %s\nCOPY . /ctx\nRUN test -d /ctx/Sources && test -f /ctx/Weights/shapes_mask_rcnn.safetensors && ! test -e /ctx/.git && ! test -e /ctx/.build && ! test -e /ctx/.venv && ! test -e /ctx/.cache && test -z "$(find /ctx -name "*.pth" ! -path "/ctx/Deploy/checkpoints/*")"\n' "$SLIM" > "$CTX_PROBE"
touch "$ROOT/stray-context-probe.pth"
check "build context holds the sources and weights, not .git, build folders or stray checkpoints" \
    podman build --pull=never --no-cache -f "$CTX_PROBE" -t localhost/rcnn-context-probe .
rm -f "$ROOT/stray-context-probe.pth"
podman rmi -f localhost/rcnn-context-probe >/dev/null 2>&1 || true

# ---- the default image -----------------------------------------------------------------------------
IMAGE=localhost/rcnn:check
t0=$(date +%s)
if ! podman build --format docker --pull=never --network host -t "$IMAGE" . >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log"; echo "container_check: the image did not build (log: $WORK/build.log)" >&2; exit 1
fi
echo "built $IMAGE in $(elapsed "$t0") ($(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"

NAMES=()
cleanup() {
    [ "$KEEP" = 1 ] && return
    local n; for n in "${NAMES[@]}"; do podman rm -f "$n" >/dev/null 2>&1 || true; done
    [ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null || true
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { # wait_ready PORT: /readyz answers 200 within 120 s
    local i; for i in $(seq 1 240); do
        curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.5
    done; return 1
}
start() { # start NAME IMAGE HOST_PORT CONTAINER_PORT [podman run options...]
    local name="$1" image="$2" hport="$3" cport="$4"; shift 4
    podman rm -f "$name" >/dev/null 2>&1 || true
    NAMES+=("$name")
    # (Without systemd, podman cannot schedule the periodic health check and says so on stderr;
    # `podman healthcheck run` below runs it on demand.)
    podman run -d --name "$name" -p "127.0.0.1:$hport:$cport" "$@" "$image" >/dev/null 2>>"$WORK/podman-run.log"
}
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

SAMPLE="$ROOT/Samples/shapes_val_0000.jpg"
P1="$(free_port)"
# As Deploy/kubernetes.yaml runs it: read-only root file system (no tmpfs either), no capabilities,
# no privilege escalation.
start rcnn-check "$IMAGE" "$P1" 8080 --read-only --read-only-tmpfs=false --cap-drop ALL --security-opt no-new-privileges
check "container becomes ready (read-only root, no capabilities)" wait_ready "$P1"
check "GET /healthz" curl -fsS "http://127.0.0.1:$P1/healthz"
check "GET /readyz" curl -fsS "http://127.0.0.1:$P1/readyz"
check "GET /v1/models lists the embedded model" \
    sh -c "curl -fsS http://127.0.0.1:$P1/v1/models | grep -q '\"shapes_mask_rcnn\"'"
detect_masks() {
    curl -fsS -F "image=@$SAMPLE" "http://127.0.0.1:$P1/v1/detect?masks=rle" > "$WORK/detect.json"
    json 'sum(1 for x in d["detections"] if x.get("mask"))' < "$WORK/detect.json" > "$WORK/n"
    echo "detections with masks: $(cat "$WORK/n")"; [ "$(cat "$WORK/n")" -gt 0 ]
}
check "POST /v1/detect answers detections with RLE masks" detect_masks
check "the server runs as uid 10001, not root" \
    sh -c "[ \"\$(podman exec rcnn-check id -u)\" = 10001 ] && podman top rcnn-check user comm | grep -E '^10001 +rcnn$|^rcnn +rcnn$'"
stripped() {
    local mnt; mnt="$(podman image mount "$IMAGE")"
    local sections; sections="$(readelf -S "$mnt/usr/local/bin/rcnn")"
    podman image unmount "$IMAGE" >/dev/null
    ! grep -qE '\.symtab|\.debug_' <<<"$sections"
}
check "the binary is stripped (no .symtab, no debug sections)" stripped
check "HEALTHCHECK is in the image (docker format)" \
    sh -c "podman image inspect $IMAGE --format '{{json .Config.Healthcheck}}' | grep -q RCNN_PORT"
check "podman healthcheck run reports healthy" podman healthcheck run rcnn-check
sigterm() {
    local t0; t0=$(date +%s)
    podman stop -t 30 rcnn-check >/dev/null
    local code; code="$(podman inspect rcnn-check --format '{{.State.ExitCode}}')"
    echo "exit code $code after $(elapsed "$t0")"
    podman logs rcnn-check 2>&1 | tail -n 3
    [ "$code" = 0 ]
}
check "SIGTERM: the server drains and exits 0 (not killed)" sigterm

P2="$(free_port)"
start rcnn-check-port "$IMAGE" "$P2" 9090 -e RCNN_PORT=9090
check "RCNN_PORT=9090: ready on the new port" wait_ready "$P2"
check "RCNN_PORT=9090: the health check follows the port" podman healthcheck run rcnn-check-port
podman rm -f rcnn-check-port >/dev/null

# ---- an image built from a checkpoint served over loopback HTTP -----------------------------------
CK="$WORK/checkpoint"
rm -rf "$CK"; mkdir -p "$CK"
ARCH=fasterrcnn_mobilenet_v3_large_320_fpn
/usr/bin/python3 - "$CK" "$ARCH" <<'EOF'
# A torchvision model with seeded random weights and 91 classes, saved as published checkpoints are,
# under torchvision's NAME-<sha256 prefix>.pth convention.
import hashlib, os, sys, torch, torchvision
out, arch = sys.argv[1], sys.argv[2]
torch.manual_seed(7)
model = getattr(torchvision.models.detection, arch)(weights=None, weights_backbone=None, num_classes=91)
tmp = os.path.join(out, "tmp.pth")
torch.save(model.state_dict(), tmp)
digest = hashlib.sha256(open(tmp, "rb").read()).hexdigest()
os.rename(tmp, os.path.join(out, f"{arch}_coco-{digest[:8]}.pth"))
EOF
CKPT_FILE="$(basename "$(ls "$CK"/*.pth)")"
HTTP_PORT="$(free_port)"
/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$CK" "$HTTP_PORT" >"$WORK/http.log" 2>&1 &
HTTP_PID=$!
sleep 1
COCO_IMAGE=localhost/rcnn-coco:check
t0=$(date +%s)
if podman build --format docker --pull=never --network host -t "$COCO_IMAGE" \
    --build-arg CHECKPOINT_URL="http://127.0.0.1:$HTTP_PORT/$CKPT_FILE" \
    --build-arg ARCH="$ARCH" --build-arg NAME=coco_mobilenet \
    --build-arg IMPORT_ARGS="--box-score-thresh 0.01" . >"$WORK/build-coco.log" 2>&1; then
    PASS=$((PASS + 1)); echo "ok    build with CHECKPOINT_URL over loopback HTTP ($(elapsed "$t0"))"
else
    FAIL=$((FAIL + 1)); echo "FAIL  build with CHECKPOINT_URL over loopback HTTP"; tail -n 30 "$WORK/build-coco.log"
fi
kill "$HTTP_PID" 2>/dev/null || true; HTTP_PID=

if podman image exists "$COCO_IMAGE"; then
    P3="$(free_port)"
    start rcnn-check-coco "$COCO_IMAGE" "$P3" 8080
    check "checkpoint image becomes ready" wait_ready "$P3"
    coco_models() {
        curl -fsS "http://127.0.0.1:$P3/v1/models" > "$WORK/models.json"
        json '[(m["name"], len(m["classes"]), m["classes"][1]) for m in d["models"]]' < "$WORK/models.json"
        json 'd["models"][0]["name"] == "coco_mobilenet" and len(d["models"][0]["classes"]) == 91 and d["models"][0]["classes"][1] == "person" and any(m["name"] == "shapes_mask_rcnn" for m in d["models"])' \
            < "$WORK/models.json" | grep -qx True
    }
    check "checkpoint image lists the imported model (91 COCO classes) and the embedded one" coco_models
    # The same checkpoint imported and run on the host gives the same detections.
    same_detections() {
        local bin; bin="$(swift build -c release --show-bin-path)/rcnn"
        [ -x "$bin" ] || swift build -c release --product rcnn >/dev/null
        "$bin" import --arch "$ARCH" --name coco_mobilenet --out "$WORK/host-model" --box-score-thresh 0.01 "$CK/$CKPT_FILE" >/dev/null
        "$bin" detect --config "$WORK/host-model/coco_mobilenet.json" "$SAMPLE" > "$WORK/host.json"
        curl -fsS -F "image=@$SAMPLE" "http://127.0.0.1:$P3/v1/detect" > "$WORK/container.json"
        /usr/bin/python3 - "$WORK/host.json" "$WORK/container.json" <<'EOF'
import json, sys
host, served = (json.load(open(p)) for p in sys.argv[1:3])
a, b = host["detections"], served["detections"]
print(f"host {len(a)} detections, container {len(b)}")
assert len(a) == len(b) and len(a) > 0, "detection counts differ or are zero"
for x, y in zip(a, b):
    assert x["label"] == y["label"], (x, y)
    assert abs(x["score"] - y["score"]) <= 1e-5, (x, y)
    assert max(abs(p - q) for p, q in zip(x["box"], y["box"])) <= 1e-3, (x, y)
EOF
    }
    check "checkpoint image: POST /v1/detect equals rcnn detect on the host import" same_detections
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
