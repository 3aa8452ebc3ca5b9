# rcnn server image: build with the Swift toolchain, run on slim Debian with only the runtime
# libraries. The embedded default model (Config/ + Weights/) is baked in.
#
#   docker build -t rcnn .
#   docker run --rm -p 8080:8080 rcnn
FROM swift:6.1-bookworm AS build
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libopenblas-dev libjpeg-dev libpng-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product rcnn \
 && install -D "$(swift build -c release --show-bin-path)/rcnn" /out/rcnn

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libopenblas0-pthread libjpeg62-turbo libpng16-16 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /srv/rcnn --shell /usr/sbin/nologin rcnn
WORKDIR /srv/rcnn
COPY --from=build /out/rcnn /usr/local/bin/rcnn
COPY Config ./Config
COPY Weights ./Weights
ENV RCNN_HOME=/srv/rcnn RCNN_HOST=0.0.0.0 RCNN_PORT=8080
USER rcnn
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["rcnn", "serve"]
