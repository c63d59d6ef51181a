# The sluice-agent image: Debian 12, built in two stages. The first builds
# the Debian packages (cmake, cpack); the second installs only the
# sluice-agent package, which pulls in the shared libraries it needs and
# no compiler, headers or build tool. It runs as user 10001 (sluice), the
# user the Kubernetes manifests (deploy/k8s/) expect. Every setting is a
# SLUICE_* environment variable (sluice-agent --help).
#
#   docker build -f deploy/docker/agent.Dockerfile -t sluice-agent:0.1.0 .
#
# (from the repository's root; .dockerignore keeps build trees out.)

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config dpkg-dev file \
      libcpprest-dev libpqxx-dev cppzmq-dev libzmq3-dev nlohmann-json3-dev \
      prometheus-cpp-dev libboost-system-dev libboost-dev libssl-dev \
      libhiredis-dev libyaml-cpp-dev \
      libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr \
 && cmake --build /build -j"$(nproc)" \
 && cd /build && cpack -G DEB -B /packages

FROM debian:12-slim
# The package's postinst keeps an existing user sluice: this one has the
# fixed id the manifests run as.
RUN groupadd --system --gid 10001 sluice \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent \
      --no-create-home --shell /usr/sbin/nologin sluice
COPY --from=build /packages/sluice-agent_*.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/sluice-agent_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/*.deb
# The socket directory (a hostPath volume covers it under Kubernetes).
RUN install -d -o 10001 -g 10001 -m 0750 /run/sluice
ENV SLUICE_SOCKET=/run/sluice/agent.sock \
    SLUICE_METRICS=0.0.0.0:9102
USER 10001:10001
EXPOSE 9102
ENTRYPOINT ["/usr/bin/sluice-agent"]
