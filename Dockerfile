# syntax=docker/dockerfile:1
# Multi-stage build of the one sitestat binary; the role is chosen at launch:
#   docker run --rm -e SITESTAT_DATABASE_URL=… -e SITESTAT_KAFKA_BROKERS=… sitestat check
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/sitestat .

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin sitestat
COPY --from=build /out/sitestat /usr/local/bin/sitestat
USER 10001:10001
ENTRYPOINT ["sitestat"]
CMD ["--help"]
