# The controller image, for people with Docker. `cargo xtask image` builds
# the same image without Docker: the static binaries alone on an empty
# filesystem, running as uid 65532, like distroless static:nonroot. The
# launcher is what the controller's pods copy to run their steps.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p minitask-controller -p minitask-launcher --target x86_64-unknown-linux-gnu

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/minitask-controller /minitask-controller
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/minitask-launcher /minitask-launcher
USER 65532:65532
ENTRYPOINT ["/minitask-controller"]
