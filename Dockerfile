# One small image with both binaries: /manager (the operator) and
# /memory-server (what MemoryServers run). Both are static (CGO off; SQLite
# is the pure-Go modernc.org/sqlite), so the runtime image is distroless
# static, running as the non-root user 65532.
#
#   docker build -t ghcr.io/memory-operator/memory-operator:dev .
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
# go.mod replaces github.com/segmentio/encoding with the patched copy here.
COPY third_party/ third_party/
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY server/ server/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# VERSION is what memory-server reports as its MCP serverInfo.version.
ARG VERSION=dev
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags="-s -w" -o /out/manager ./cmd/manager && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build \
      -ldflags="-s -w -X github.com/memory-operator/memory-operator/server/app.Version=${VERSION}" \
      -o /out/memory-server ./cmd/memory-server

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/manager /manager
COPY --from=build /out/memory-server /memory-server
USER 65532:65532
EXPOSE 8080
# The operator's Deployment runs /manager; MemoryServer pods run the image's
# entrypoint with --config.
ENTRYPOINT ["/memory-server"]
