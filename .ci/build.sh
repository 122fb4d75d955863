#!/bin/sh
# The one way hookd's release binary is built: by the Dockerfile and by
# .ci/run (which then runs it as the image would). Static, no cgo, version
# and commit stamped in (hookd version, User-Agent, hookd_build_info).
set -eu
: "${VERSION:=dev}" "${COMMIT:=unknown}" "${OUT:=hookd}"
CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o "$OUT" .
