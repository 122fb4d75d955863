# hookd: one static binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /hookd .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /hookd /hookd
VOLUME /data
EXPOSE 8080
# auth.mode none refuses a non-loopback listen address: pass a real auth
# config (or HOOKD_AUTH_ALLOW_INSECURE=true for a throwaway demo).
ENV HOOKD_SERVER_LISTEN=0.0.0.0:8080 HOOKD_STORAGE_DIR=/data
ENTRYPOINT ["/hookd"]
CMD ["serve"]
