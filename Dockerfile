# The `case-bot` server as a small image: built in the Rust image, run from distroless (glibc,
# CA certificates, no shell, no package manager) as the non-root user 65532, healthy while
# `case-bot healthcheck` gets a 200 from /healthz. See docs/deploy-server.md.
#
#   podman build -t casebot .            (or: docker build -t casebot .)
#   podman run -d --name casebot -v casebot-state:/var/lib/casebot \
#     -e CASE_BOT_MODE=stream -e CASE_BOT_SUPPORT=aws -e DINGTALK_APP_KEY=... -e DINGTALK_APP_SECRET=... casebot
#
# (Podman keeps HEALTHCHECK only in Docker-format images: build with `--format docker`.)
# Moving the bot off port 8080 (CASE_BOT_LISTEN)? Set CASE_BOT_HEALTH_URL to match.

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Release profile: fat LTO, one codegen unit (4–8 minutes on 2 cores).
RUN cargo build --release --locked -p case-bot-hyper --bin case-bot \
 && install -D -m 0755 target/release/case-bot /out/usr/local/bin/case-bot \
 && install -d -m 0700 /out/var/lib/casebot

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/usr/local/bin/case-bot /usr/local/bin/case-bot
COPY --from=build --chown=65532:65532 /out/var/lib/casebot /var/lib/casebot
USER 65532:65532
WORKDIR /var/lib/casebot
ENV CASE_BOT_LISTEN=0.0.0.0:8080 \
    CASE_BOT_STATE=/var/lib/casebot/casebot-state.db \
    CASE_BOT_LOG_FORMAT=json \
    CASE_BOT_LOG=info
VOLUME ["/var/lib/casebot"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/case-bot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/case-bot"]
CMD ["serve"]
