#!/usr/bin/env bash
# Builds native/ (the kernels and the C++ autograd op) against the libtorch-dev of other Debian releases and
# runs its tests there. The op is built only against an SDK whose headers and libraries belong together, and a
# machine has one libtorch-dev, so each release gets a chroot of its own (debootstrap, minbase) under
# build/debian-RELEASE, kept between runs: the first run of a release downloads about 1 GB and takes some
# minutes, later ones update its packages and rebuild what changed. Run from anywhere:
#   native/torch/debian-check.sh [--junit DIR] RELEASE...      e.g. trixie (libtorch 2.6), forky (2.14)
# --junit DIR: CTest's JUnit report of each release as DIR/RELEASE.xml, its test names prefixed "RELEASE.".
# Needs root, debootstrap and Debian's archive (ARELU_DEBIAN_MIRROR, default deb.debian.org). Exits 1 when a
# release fails to build or pass its tests, else 3 when one could not be set up (the archive unreachable, or a
# testing release's libtorch-dev not installable for the moment: nothing of ours), naming release and step.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mirror="${ARELU_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

usage() {
  echo "usage: native/torch/debian-check.sh [--junit DIR] RELEASE..." >&2
  exit 2
}
junit=""
releases=()
while (($#)); do
  case "$1" in
    --junit) (($# >= 2)) || usage; junit="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    -h | --help) sed -n '2,11s/^# \{0,1\}//p' "$0" >&2; exit 0 ;;
    -*) usage ;;
    *) releases+=("$1"); shift ;;
  esac
done
((${#releases[@]})) || usage
if [[ $(id -u) -ne 0 ]]; then
  echo "debian-check: needs root (debootstrap and chroot)" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "debian-check: needs debootstrap (Debian package debootstrap; bin/setup native-tests installs it)" >&2
  exit 1
fi

mkdir -p "$root/build"
mounted=()
unmount_all() {
  local m
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  mounted=()
}
trap unmount_all EXIT

# Unmounts every mount below directory $1, the deepest first.
unmount_under() {
  local m
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || return 1
  done < <(awk -v prefix="$1/" 'index($2, prefix) == 1 {print $2}' /proc/mounts | sort -r)
}

# One release; returns 3 when its chroot could not be set up, 1 when the build or the tests fail, having named
# the step. (Called in a || list, where set -e does not act: every step checks its own status.)
check_release() {
  local release="$1"
  local chroot="$root/build/debian-$release"
  local log="$root/build/debian-$release.log"
  fail() {
    echo "debian-check: $release: failed while $1 (log: $log)" >&2
    tail -n 20 "$log" >&2
    return 1
  }
  : >"$log"
  # Marked only once debootstrap finished: one interrupted in its second stage (which configures the packages
  # its first stage unpacked, apt among them) leaves a chroot that apt refuses to work in.
  if [[ ! -f "$chroot/.bootstrapped" ]]; then
    echo "debian-check: $release: debootstrap into $chroot" >&2
    # A half-made chroot of an interrupted run may still have mounts (our /proc; debootstrap's /proc, /sys and
    # /dev/pts): never delete through them.
    unmount_under "$chroot" || { fail "unmounting what an interrupted run left mounted in it"; return 3; }
    rm -rf "$chroot"
    # debootstrap knows a release by a script of its name; a release newer than this debootstrap is
    # bootstrapped as sid is (the same layout).
    local script=()
    [[ -e "/usr/share/debootstrap/scripts/$release" ]] || script=(/usr/share/debootstrap/scripts/sid)
    debootstrap --variant=minbase "$release" "$chroot" "$mirror" "${script[@]}" >>"$log" 2>&1 ||
      { rm -rf "$chroot"; fail "bootstrapping it"; return 3; }
    touch "$chroot/.bootstrapped"
  fi
  # libtorch reads the CPU's features from /proc (also in the build, whose test discovery runs the tests);
  # unmounted at the end, also when an interrupted run left it mounted.
  if ! mountpoint -q "$chroot/proc"; then
    mount -t proc proc "$chroot/proc" || { fail "mounting /proc"; return 3; }
  fi
  mounted+=("$chroot/proc")
  cp /etc/resolv.conf "$chroot/etc/resolv.conf"
  echo "debian-check: $release: installing cmake, g++, make, libtorch-dev and libgtest-dev" >&2
  # The archive of a testing release marks its index valid for a week; a mirror kept at one day would be
  # refused after that.
  { chroot "$chroot" apt-get -q -o Acquire::Check-Valid-Until=false update &&
    chroot "$chroot" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q cmake g++ make libtorch-dev \
      libgtest-dev; } >>"$log" 2>&1 || { fail "installing the packages"; return 3; }
  local version
  version="$(chroot "$chroot" dpkg-query -W -f='${Version}' libtorch-dev)"

  echo "debian-check: $release: building native/ against libtorch-dev $version" >&2
  rm -rf "$chroot/src" && mkdir -p "$chroot/src" && cp -a "$root/native" "$chroot/src/native" ||
    { fail "copying native/"; return 1; }
  { chroot "$chroot" cmake -S /src/native -B /build -DCMAKE_BUILD_TYPE=Release -DARELU_REQUIRE_TORCH=ON \
    -DARELU_REQUIRE_TESTS=ON &&
    chroot "$chroot" cmake --build /build -j "$(nproc)"; } >>"$log" 2>&1 || { fail "building"; return 1; }

  echo "debian-check: $release: testing against libtorch-dev $version" >&2
  rm -f "$chroot/ctest.xml"
  local status=0
  chroot "$chroot" ctest --test-dir /build -j "$(nproc)" --no-tests=error --output-on-failure \
    --output-junit /ctest.xml \
    >>"$log" 2>&1 || status=$?
  if [[ -n "$junit" && -f "$chroot/ctest.xml" ]]; then
    sed "s/ name=\"/ name=\"$release./g" "$chroot/ctest.xml" >"$junit/$release.xml"
  fi
  grep -E "tests passed|\(Failed\)|\(Subprocess|\(Timeout" "$log" >&2 || true
  if ((status != 0)); then
    fail "testing against libtorch-dev $version"
    return 1
  fi
  echo "debian-check: $release: passed against libtorch-dev $version" >&2
}

# One run at a time per release and clone (another would share the chroot's /proc, sources and build), its
# mount undone before the next may start.
check_release_locked() {
  local lock_fd status=0
  exec {lock_fd}>"$root/build/debian-$1.lock"
  flock "$lock_fd"
  check_release "$1" || status=$?
  unmount_all
  exec {lock_fd}>&-
  return "$status"
}

failed=()
unavailable=()
for release in "${releases[@]}"; do
  status=0
  check_release_locked "$release" || status=$?
  if ((status == 3)); then
    unavailable+=("$release")
  elif ((status != 0)); then
    failed+=("$release")
  fi
done
if ((${#failed[@]})); then
  echo "debian-check: failed: ${failed[*]}" >&2
  exit 1
fi
if ((${#unavailable[@]})); then
  echo "debian-check: could not set up: ${unavailable[*]}" >&2
  exit 3
fi
