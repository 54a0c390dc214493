# syntax=docker/dockerfile:1
# Images that carry the self-contained `keyless` release binary (scripts/dist: statically linked, no libc or
# loader needed). Build them from the repository root:
#   docker build -t keyless:0.1.0 .                     the step image: Debian slim + keyless (the last stage)
#   docker build --target dist -t keyless-dist:0.1.0 .  FROM scratch: only /keyless and a CA bundle, for
#                                                       `COPY --from=keyless-dist:0.1.0 /keyless /usr/local/bin/`
#   docker run --rm keyless:0.1.0 keyless --version
# crates/cli/tests/release/dockerfile.rs checks this file's invariants (pinned bases, the dist build, non-root user, ...),
# since CI has no Docker engine to build it; crates/cli/tests/release/release.rs runs the same binary in an empty root.

# The builder's tag must match the channel in rust-toolchain.toml (the test checks it).
FROM rust:1.95.0-bookworm AS build
# Use the image's toolchain as is: rust-toolchain.toml would otherwise make rustup fetch components.
ENV RUSTUP_TOOLCHAIN=1.95.0 CARGO_TERM_COLOR=never
WORKDIR /src
COPY . .
# `scripts/dist --binary-only` is `cargo build --profile dist --target x86_64-unknown-linux-gnu --locked -p keyless`
# with `-C target-feature=+crt-static` and path remapping; it fails if the result needs a loader or a shared library.
RUN scripts/dist --binary-only \
    && install -D -m 0755 target/x86_64-unknown-linux-gnu/dist/keyless /out/keyless \
    && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt

# Only the binary and a CA bundle (rustls reads /etc/ssl/certs/ca-certificates.crt, as on Debian): for
# `COPY --from=` into any image, or to run keyless alone. Name resolution needs no NSS modules (docs/release.md).
FROM scratch AS dist
COPY --from=build /out/keyless /keyless
COPY --from=build /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["/keyless"]
CMD ["--help"]

# The step image: Debian slim, because a step image needs a shell to run the step's script (distroless has none),
# and the pipe's entrypoint is a bash script. The binary is static, so any Debian (or other) release would do.
# ca-certificates: keyless verifies AWS's TLS certificates against the system roots. It is deliberately not
# pinned to a version: root certificates must follow Debian's updates, and old versions leave the mirror.
FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --shell /bin/sh keyless
COPY --from=dist /keyless /usr/local/bin/keyless
USER 10001:10001
WORKDIR /home/keyless
# No ENTRYPOINT: Bitbucket runs the step's script in a shell inside this image, and a base image should not
# take over its children's command line. `docker run IMAGE` alone prints the help.
CMD ["keyless", "--help"]
