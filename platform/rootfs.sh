# shellcheck shell=bash
# Debian rootfs helpers shared by the base image scripts (base-image.sh: nginx,
# postgres-base-image.sh: PostgreSQL). Source it after lib.sh; do not run it.
#
#   debootstrap_rootfs <rootfs>      debootstrap --variant=minbase $SUITE from the host's apt mirror
#                                    (debs cached in $DEB_CACHE), apt sources = the host's (incl.
#                                    security), no recommends, no docs/man/locales in later installs,
#                                    policy-rc.d so no service starts in the chroot
#   "${IN_ROOTFS[@]}" <rootfs> cmd...  run cmd chrooted, with /proc mounted in a private mount
#                                    namespace (nothing can leak into $CACHE if we die); a command
#                                    line, so it works under `step` and `timeout`
#   strip_rootfs <rootfs>            remove apt lists/caches, docs (copyright kept), man, locales,
#                                    logs, host-specific files, policy-rc.d, /dev contents

SUITE="${SUITE:-bookworm}"
DEB_CACHE="$CACHE/debootstrap/$SUITE"

# First deb822 URIs / one-line "deb" URL for the main Debian archive on this host.
host_mirror() {
  local m
  m=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
  [[ -z "$m" ]] && m=$(grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | \
        awk '{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -v -- '-security' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}
host_security_mirror() {
  local m
  m=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -- '-security' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian-security}"
}

# candidate_version <package> : the version apt on the host would install (apt-get update once if unknown).
candidate_version() {
  local v
  v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [[ -z "$v" || "$v" == "(none)" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    v=$(apt-cache policy "$1" | awk '/Candidate:/ {print $2}')
  fi
  [[ -n "$v" && "$v" != "(none)" ]] || die "apt has no candidate for $1"
  echo "$v"
}

# Docker tag from a Debian version: '+', '~' and ':' are not allowed in tags.
tag_of() { echo "$1" | tr '+~:' '___'; }

# shellcheck disable=SC2034,SC2016  # used by the sourcing scripts; expanded by the inner bash
IN_ROOTFS=(unshare --mount --propagation private -- bash -euc '
  r="$1"; shift
  mount -t proc proc "$r/proc"
  chroot "$r" env DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
  umount "$r/proc"' _)

debootstrap_rootfs() {
  local rootfs="$1"
  mkdir -p "$rootfs" "$DEB_CACHE"
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  local mirror sec; mirror=$(host_mirror); sec=$(host_security_mirror)
  log "debootstrap $SUITE minbase from $mirror (debs cached in $DEB_CACHE)"
  step "debootstrap $SUITE" timeout 900 debootstrap --variant=minbase --components=main \
    --cache-dir="$DEB_CACHE" --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    "$SUITE" "$rootfs" "$mirror"

  # same sources as the host (incl. security, where the current packages live)
  rm -f "$rootfs/etc/apt/sources.list"
  cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $sec
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat > "$rootfs/etc/apt/apt.conf.d/90sts-canary" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
EOF
  # never start services inside the chroot (a postinst would try to bind ports on the host)
  printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"; chmod +x "$rootfs/usr/sbin/policy-rc.d"
  # keep docs/man/locales out of later installs in the image, too
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
  cat > "$rootfs/etc/dpkg/dpkg.cfg.d/90sts-canary-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
}

strip_rootfs() {
  local rootfs="$1"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
         "$rootfs"/var/lib/dpkg/*-old "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
         "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/lintian/* "$rootfs"/var/log/*.log \
         "$rootfs"/var/log/apt/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/root/.bash_history
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  : > "$rootfs/etc/resolv.conf"; : > "$rootfs/etc/machine-id"; echo localhost > "$rootfs/etc/hostname"
  rm -f "$rootfs/usr/sbin/policy-rc.d"
  find "$rootfs/dev" -mindepth 1 -delete   # the runtime provides /dev
  mkdir -p "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
}
