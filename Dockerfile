# The controller image, for people with Docker. `cargo xtask image` builds
# the same image without Docker: the static binaries alone on an empty
# filesystem, running as uid 65532, like distroless static:nonroot. The
# launcher is what the controller's pods copy to run their steps; the
# archive (deploy/archive) and the webhook receiver (deploy/hooks) run
# from the same image. The bench
# and chaos harnesses are built in the same invocation, as `cargo xtask`
# does, so that the controller binary is the one they measure.
#
# The architecture is one build argument: `--build-arg
# RUST_TARGET=aarch64-unknown-linux-gnu --platform linux/arm64` builds the
# arm64 image where that target and its linker are installed.
FROM rust:1.95-bookworm AS build
ARG RUST_TARGET=x86_64-unknown-linux-gnu
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target ${RUST_TARGET} -p minitask-controller -p minitask-launcher -p minitask-archive -p minitask-hooks -p minitask-bench -p minitask-chaos

FROM gcr.io/distroless/static-debian12:nonroot
ARG RUST_TARGET=x86_64-unknown-linux-gnu
COPY --from=build /src/target/${RUST_TARGET}/release/minitask-controller /minitask-controller
COPY --from=build /src/target/${RUST_TARGET}/release/minitask-launcher /minitask-launcher
COPY --from=build /src/target/${RUST_TARGET}/release/minitask-archive /minitask-archive
COPY --from=build /src/target/${RUST_TARGET}/release/minitask-hooks /minitask-hooks
USER 65532:65532
ENTRYPOINT ["/minitask-controller"]
