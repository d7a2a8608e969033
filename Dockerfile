# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=$(git describe --tags --always) -t sre-agent .
# The builder uses the toolchain go.mod pins (GOTOOLCHAIN=auto fetches
# go1.26.10 from the module proxy); the image is distroless, static, and
# runs as a non-root user with a read-only root filesystem (set in the pod
# spec: readOnlyRootFilesystem).

FROM golang:1.26-bookworm AS build
ENV GOTOOLCHAIN=auto CGO_ENABLED=0 GOFLAGS=-trimpath
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/sre-agent ./cmd/sre-agent \
 && /out/sre-agent version

FROM gcr.io/distroless/static-debian12:nonroot
# CA certificates come with the base image; the agent only speaks TLS out.
COPY --from=build /out/sre-agent /usr/local/bin/sre-agent
USER 65532:65532
# State (the SQLite store, the audit log) lives on a mounted volume.
ENV XDG_STATE_HOME=/var/lib/sre-agent
VOLUME ["/var/lib/sre-agent"]
EXPOSE 9469
ENTRYPOINT ["/usr/local/bin/sre-agent"]
CMD ["run", "--config", "/etc/sre-agent/config.yaml"]
