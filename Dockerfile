# rcnn server image: build with the Swift toolchain the project is tested with (6.3.1), run on slim
# Debian with only the runtime libraries, as a non-root user.
#
#   docker build -t rcnn .                        # serves the embedded default model
#   docker run --rm -p 8080:8080 rcnn
#
# A published torchvision checkpoint, downloaded and imported with `rcnn import` in the build (no
# Python anywhere); the image then serves it as its default model, with the embedded one beside it:
#
#   docker build -t rcnn-coco \
#     --build-arg CHECKPOINT_URL=https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth \
#     --build-arg ARCH=maskrcnn_resnet50_fpn --build-arg NAME=maskrcnn_coco \
#     --build-arg IMPORT_ARGS="--backbone-bn-eps 0" .
#
# Or a checkpoint file put in Deploy/checkpoints/ (the only place in the build context where .pth
# files are let in): --build-arg CHECKPOINT=my_model.pth --build-arg ARCH=... . Build arguments:
#   CHECKPOINT_URL     where to download the checkpoint (http/https)
#   CHECKPOINT         or a file name in Deploy/checkpoints/
#   CHECKPOINT_SHA256  optional: the checkpoint's SHA-256, checked (torchvision's NAME-<hex>.pth
#                      file names are checked against their hash prefix in any case)
#   ARCH               the torchvision architecture (rcnn import --help lists them)
#   NAME               the model's name in the API (default: ARCH)
#   CLASSES            optional: a class-names file in Deploy/checkpoints/ (default: COCO's names for
#                      91 classes)
#   IMPORT_ARGS        further `rcnn import` flags (thresholds, sizes, --backbone-bn-eps 0 for
#                      torchvision's COCO_V1 ResNet-50 weights)
#
# podman: build with `--format docker`; podman's default OCI format drops HEALTHCHECK.
# Tools/container_check.sh builds this file with podman and checks the image as a user would.
FROM swift:6.3.1-bookworm AS build
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libopenblas-dev libjpeg-dev libpng-dev curl ca-certificates binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product rcnn \
 && install -D "$(swift build -c release --show-bin-path)/rcnn" /out/rcnn \
 && strip --strip-all /out/rcnn
# The model files the image serves: the embedded default model, plus an imported checkpoint when the
# build arguments name one (the layers above are cached across checkpoints).
COPY Config ./Config
COPY Weights ./Weights
COPY Deploy/checkpoints ./Deploy/checkpoints
COPY Tools/container_import.sh ./Tools/
ARG CHECKPOINT_URL=""
ARG CHECKPOINT=""
ARG CHECKPOINT_SHA256=""
ARG ARCH=""
ARG NAME=""
ARG CLASSES=""
ARG IMPORT_ARGS=""
RUN RCNN=/out/rcnn OUT=/out/srv sh Tools/container_import.sh

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libopenblas0-pthread libjpeg62-turbo libpng16-16 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /srv/rcnn --shell /usr/sbin/nologin rcnn \
 && install -d -o rcnn -g rcnn /srv/rcnn/models
WORKDIR /srv/rcnn
COPY --from=build /out/rcnn /usr/local/bin/rcnn
COPY --from=build /out/srv/ ./
# RCNN_MODEL_REPOSITORY=/srv/rcnn/models (a mounted volume) turns on the model repository API.
ENV RCNN_HOME=/srv/rcnn RCNN_HOST=0.0.0.0 RCNN_PORT=8080
USER 10001:10001
EXPOSE 8080
# The shell form, so that the check follows RCNN_PORT when a deployment changes it.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${RCNN_PORT:-8080}/healthz" >/dev/null || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["rcnn", "serve"]
