# syntax=docker/dockerfile:1
# A small image that carries `keyless`: use it as a Bitbucket step `image:`, or as a base (`FROM`) for an image
# that adds your deploy tools. Build it from the repository root:
#   docker build -t keyless:0.1.0 .
#   docker run --rm keyless:0.1.0 keyless --version
# crates/cli/tests/dockerfile.rs checks this file's invariants (pinned bases, --locked, non-root user, ...),
# since CI has no Docker engine to build it.

# The builder's tag must match the channel in rust-toolchain.toml (the test checks it).
FROM rust:1.95.0-bookworm AS build
# Use the image's toolchain as is: rust-toolchain.toml would otherwise make rustup fetch components.
ENV RUSTUP_TOOLCHAIN=1.95.0 CARGO_TERM_COLOR=never
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p keyless \
    && install -D -m 0755 target/release/keyless /out/keyless

# Runtime: Debian slim, because a step image needs a shell to run the step's script (distroless has none).
# ca-certificates: keyless verifies AWS's TLS certificates against the system roots. It is deliberately not
# pinned to a version: root certificates must follow Debian's updates, and old versions leave the mirror.
FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --shell /bin/sh keyless
COPY --from=build /out/keyless /usr/local/bin/keyless
USER 10001:10001
WORKDIR /home/keyless
# No ENTRYPOINT: Bitbucket runs the step's script in a shell inside this image, and a base image should not
# take over its children's command line. `docker run IMAGE` alone prints the help.
CMD ["keyless", "--help"]
