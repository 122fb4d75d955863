# hookd: one static binary in a distroless image, running as uid 65532.
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse --short HEAD) -t hookd .
# .ci/run builds the binary with the same command and flags (.ci/build.sh)
# and runs it as 65532 against a data dir owned as /data is here.
FROM golang:1.26 AS build
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN VERSION="$VERSION" COMMIT="$COMMIT" OUT=/hookd sh .ci/build.sh \
 && mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0750 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /hookd /hookd
# /data exists and belongs to the runtime user before VOLUME, so a fresh
# named volume starts owned by it too.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080
# auth.mode "none" is refused on a non-loopback address: run with
# HOOKD_AUTH_MODE=jwt and HOOKD_AUTH_JWT_SECRET (README, "Docker"), or a
# config file mounted at /etc/hookd/hookd.toml with --config.
ENV HOOKD_SERVER_LISTEN=0.0.0.0:8080 HOOKD_STORAGE_DIR=/data
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/hookd", "healthcheck"]
ENTRYPOINT ["/hookd"]
CMD ["serve"]
