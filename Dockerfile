# The controller image, for people with Docker. `cargo xtask image` builds
# the same image without Docker: the static binaries alone on an empty
# filesystem, running as uid 65532, like distroless static:nonroot. The
# launcher is what the controller's pods copy to run their steps. The bench
# and chaos harnesses are built in the same invocation, as `cargo xtask`
# does, so that the controller binary is the one they measure.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu -p minitask-controller -p minitask-launcher -p minitask-bench -p minitask-chaos

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/minitask-controller /minitask-controller
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/minitask-launcher /minitask-launcher
USER 65532:65532
ENTRYPOINT ["/minitask-controller"]
