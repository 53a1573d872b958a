# Shared shell functions of slim's scripts. Sourced, never run.
DEBIAN_BASE=${SLIM_DEBIAN_BASE:-slim-base/debian:bookworm}
ALPINE_BASE=${SLIM_ALPINE_BASE:-slim-base/alpine:3.20}
DEBIAN_MIRROR=${SLIM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ALPINE_TARBALL="$ROOT/samples/base/alpine-minirootfs-3.20.3-x86_64.tar.gz"
ALPINE_SHA512=9d5405f61f8a6ebc02461ba75346fbf1a63a4eab8510a0158dd321cee0c4dafe28c2a3d2cb7c3d75e2a8130dae0c3c92382f5b6adeea309eafc97621c5bf6400
DOCKERD_LOG=${SLIM_DOCKERD_LOG:-/var/log/slim-dockerd.log}

log() { echo "[setup] $*" >&2; }
die() { echo "[setup] error: $*" >&2; exit 1; }

apt_install() {  # the Debian packages named, when any (once apt's lists are fresh)
  [ $# -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "need root to install $* (apt-get)"
  log "installing $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}

install_host_tools() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v strace >/dev/null 2>&1 || missing+=(strace)
  [ -x /usr/bin/tini-static ] || missing+=(tini)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  # for the tests: compiled ELF fixtures (32-bit decoys, musl binaries)
  command -v gcc >/dev/null 2>&1 || missing+=(gcc)
  [ -d /usr/lib/gcc/x86_64-linux-gnu/12/32 ] || missing+=(gcc-multilib)
  command -v musl-gcc >/dev/null 2>&1 || missing+=(musl-tools)
  # for the push tests: the reference registry server, run on 127.0.0.1 by the tests
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  # for the remote-engine tests' TLS engine: its certificates (openssl), its bridge and the listener check (ip, ss)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  { command -v ip && command -v ss; } >/dev/null 2>&1 || missing+=(iproute2)
  command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)  # signature tests: a verifier slim did not write (gpg comes with it)
  apt_install "${missing[@]}"
  case " ${missing[*]} " in *" docker-registry "*) quiet_registry_service ;; esac
}

# Debian's docker-registry package enables a system registry on :5000 (every interface, plain HTTP) where systemd
# runs; the tests start their own on 127.0.0.1 and stop it, so the one this install just started is stopped.
quiet_registry_service() {
  [ -d /run/systemd/system ] || return 0
  log "disabling the docker-registry service the package started on :5000 (the push tests run their own)"
  systemctl disable --now docker-registry.service >/dev/null 2>&1 || log "warning: could not disable docker-registry.service"
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then warn_plain_tcp_engine; return 0; fi
  [ -z "${DOCKER_HOST:-}" ] || die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine or unset DOCKER_HOST"
  log "starting dockerd (log: $DOCKERD_LOG)"
  # setsid: the engine outlives this script, and is not killed with the caller's process group.
  # The Unix socket only (root and the docker group): an API on a TCP port without TLS would make every local
  # user root. The remote-engine tests start their own engine behind mutual TLS (tests/integration/tls_engine.py).
  # from /: an engine outlives the checkout it was started from (a removed working directory breaks its shims)
  (cd / && exec setsid nohup dockerd -H unix:///var/run/docker.sock) >>"$DOCKERD_LOG" 2>&1 </dev/null &
  for _ in $(seq 1 90); do
    if docker info >/dev/null 2>&1; then log "Docker engine is up"; return 0; fi
    sleep 1
  done
  echo "--- last lines of $DOCKERD_LOG ---" >&2
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 90 s"
}

# An engine started before (by hand, or by an older scripts/setup) may listen on TCP without TLS; it is not ours to
# restart, so say so.
warn_plain_tcp_engine() {
  local pid args
  for pid in $(pgrep -x dockerd || true); do
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    case "$args" in
      *tcp://*) case "$args" in *--tlsverify*) ;; *) log "warning: dockerd (pid $pid) listens on TCP without" \
        "--tlsverify: any local user gets root through it; restart it without -H tcp://... ($args)" ;; esac ;;
    esac
  done
}

ensure_venv() {
  local stamp="$ROOT/.venv/.slim-installed" want
  want=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)
  if [ -x "$ROOT/.venv/bin/slim" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "slim needs Python >= 3.11 (python3 is $(python3 --version))"
  log "creating .venv and installing slim"
  [ -x "$ROOT/.venv/bin/python" ] || python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -e "$ROOT[test]" 2>&1 | grep -v '^WARNING: Location' || true
  "$ROOT/.venv/bin/slim" --version >/dev/null || die "slim did not install"
  echo "$want" >"$stamp"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_base_images() {
  image_exists "$DEBIAN_BASE" || build_debian_base
  image_exists "$ALPINE_BASE" || import_alpine_base
}

build_debian_base() {
  local dir
  dir=$(mktemp -d /var/tmp/slim-debootstrap.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" RETURN
  log "building $DEBIAN_BASE with debootstrap --variant=minbase bookworm (about 30 s)"
  debootstrap --variant=minbase bookworm "$dir" "$DEBIAN_MIRROR" >"$dir.log" 2>&1 \
    || { tail -n 20 "$dir.log" >&2; rm -f "$dir.log"; die "debootstrap failed"; }
  rm -f "$dir.log"
  # As the official image does: no apt lists or caches inside, and apt cleans its cache after each install.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/*.log
  cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CONF
  echo 'APT::Install-Recommends "false";' >"$dir/etc/apt/apt.conf.d/docker-no-recommends"
  tar -C "$dir" --numeric-owner -c . | docker import --change 'CMD ["bash"]' - "$DEBIAN_BASE" >/dev/null \
    || die "docker import of the Debian base failed"
  log "built $DEBIAN_BASE"
}

import_alpine_base() {
  echo "$ALPINE_SHA512  $ALPINE_TARBALL" | sha512sum -c --quiet - || die "$ALPINE_TARBALL is damaged (sha512 mismatch)"
  docker import --change 'CMD ["/bin/sh"]' "$ALPINE_TARBALL" "$ALPINE_BASE" >/dev/null || die "docker import of Alpine failed"
  log "imported $ALPINE_BASE"
}

# --- Podman (scripts/setup --podman): rootful and rootless services with their Docker-compatible API ---
PODMAN_USER=${SLIM_PODMAN_USER:-slim-rootless}
PODMAN_LOG=${SLIM_PODMAN_LOG:-/var/log/slim-podman}

install_podman_tools() {
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v newuidmap >/dev/null 2>&1 || missing+=(uidmap)
  command -v slirp4netns >/dev/null 2>&1 || missing+=(slirp4netns)
  [ -x /usr/libexec/podman/catatonit ] || missing+=(catatonit)  # Podman's --init
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  apt_install "${missing[@]}"
}

# containers.conf for one Podman: processes here lack CAP_SYS_RESOURCE, so Podman's default rlimits (above this
# machine's hard limits) make every start fail; runc, since crun cannot drive this machine's hybrid cgroups.
podman_conf() {
  cat <<CONF
# written by slim's scripts/setup --podman
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
}

# Writes a containers.conf only where none is, or where the one there is ours: a machine's own is left alone.
write_podman_conf() {
  if [ -f "$1" ] && ! head -n 1 "$1" | grep -q "written by slim's scripts/setup --podman"; then
    log "warning: leaving $1 as it is (not written by slim); Podman may need its limits: see docs/setup.md"
    return 0
  fi
  [ -f "$1" ] || log "writing $1 (container rlimits within this machine's, runc)"
  podman_conf >"$1"
}

ensure_podman_rootful() {
  mkdir -p /etc/containers /run/podman
  write_podman_conf /etc/containers/containers.conf
  if curl -sf --unix-socket /run/podman/podman.sock http://d/_ping >/dev/null 2>&1; then return 0; fi
  log "starting the rootful Podman service (log: $PODMAN_LOG-rootful.log)"
  # from /: conmon, which the service starts for every container, needs its working directory to exist
  (cd / && exec setsid nohup podman system service --time=0 unix:///run/podman/podman.sock) \
    >>"$PODMAN_LOG-rootful.log" 2>&1 </dev/null &
  wait_for_socket /run/podman/podman.sock "$PODMAN_LOG-rootful.log"
}

podman_user_uid() { id -u "$PODMAN_USER"; }
as_podman_user() {
  local uid; uid=$(podman_user_uid)
  (cd /tmp && exec runuser -u "$PODMAN_USER" -- env XDG_RUNTIME_DIR="/run/user/$uid" HOME="/home/$PODMAN_USER" "$@")
}

ensure_podman_rootless() {
  # Each change is said as it is made: a rootless Podman needs a user, subordinate IDs and /dev/net/tun; nothing more.
  if ! id "$PODMAN_USER" >/dev/null 2>&1; then
    log "creating the user $PODMAN_USER (no login shell): the rootless Podman service runs as it"
    useradd --create-home --shell /usr/sbin/nologin "$PODMAN_USER"
  fi
  if ! grep -q "^$PODMAN_USER:" /etc/subuid; then
    log "giving $PODMAN_USER the subordinate UIDs 300000-365535 (/etc/subuid): its containers' users map there"
    usermod --add-subuids 300000-365535 "$PODMAN_USER"
  fi
  if ! grep -q "^$PODMAN_USER:" /etc/subgid; then
    log "giving $PODMAN_USER the subordinate GIDs 300000-365535 (/etc/subgid)"
    usermod --add-subgids 300000-365535 "$PODMAN_USER"
  fi
  # slirp4netns opens /dev/net/tun as the user; udev makes it 0666 on a Debian machine, a bare container has 0600
  # (opening it gives no power by itself: making a device needs CAP_NET_ADMIN in the user's own namespace)
  if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    log "making /dev/net/tun 0666, as udev has it on Debian: slirp4netns opens it as $PODMAN_USER"
    chmod 0666 /dev/net/tun
  fi
  local uid home; uid=$(podman_user_uid); home="/home/$PODMAN_USER"
  install -d -o "$PODMAN_USER" -m 700 "/run/user/$uid" "/run/user/$uid/podman"
  install -d -o "$PODMAN_USER" "$home/.config" "$home/.config/containers"
  write_podman_conf "$home/.config/containers/containers.conf"
  printf '[storage]\ndriver = "overlay"\n' >"$home/.config/containers/storage.conf"  # the kernel's own, not vfs
  chown "$PODMAN_USER" "$home/.config/containers/"*.conf
  local sock="/run/user/$uid/podman/podman.sock"
  if curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then return 0; fi
  log "starting the rootless Podman service as $PODMAN_USER (log: $PODMAN_LOG-rootless.log)"
  touch "$PODMAN_LOG-rootless.log" && chown "$PODMAN_USER" "$PODMAN_LOG-rootless.log"
  as_podman_user setsid nohup podman system service --time=0 "unix://$sock" >>"$PODMAN_LOG-rootless.log" 2>&1 </dev/null &
  wait_for_socket "$sock" "$PODMAN_LOG-rootless.log"
}

wait_for_socket() {
  for _ in $(seq 1 60); do
    if curl -sf --unix-socket "$1" http://d/_ping >/dev/null 2>&1; then log "Podman answers at $1"; return 0; fi
    sleep 1
  done
  tail -n 20 "$2" >&2 || true
  die "Podman did not answer at $1 within 60 s"
}
