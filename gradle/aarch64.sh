# The linux-aarch64 library without Gradle: sourced by gradle/without-gradle.sh.
# build.gradle.kts cross-compiles it the same way: on x86-64, with rustup's target and Debian's
# gcc-aarch64-linux-gnu as linker.

aarch64_target=aarch64-unknown-linux-gnu
aarch64_sysroot=/usr/aarch64-linux-gnu
# Exported for these scripts' cargo only: a global cargo config would touch every build.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER:-qemu-aarch64 -L $aarch64_sysroot}

# Prints why the aarch64 library cannot be built here; nothing when it can.
aarch64_missing() {
  local sysroot
  sysroot=$(rustc --print sysroot 2>/dev/null)
  if ! command -v "$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER" >/dev/null 2>&1; then
    echo "no $CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER (Debian: apt-get install gcc-aarch64-linux-gnu)"
  elif [[ ! -d $sysroot/lib/rustlib/$aarch64_target/lib ]]; then
    echo "no Rust standard library for $aarch64_target (rustup target add $aarch64_target)"
  fi
}

# Builds the aarch64 library into <resources>/native/linux-aarch64/ when the toolchain is here.
# Without it the jar holds linux-x86_64 alone, and says so; DIRECTMEM_ALL_PLATFORMS=1 (for a jar
# to publish) makes that an error.
aarch64_assemble() {
  local resources=$1 missing
  missing=$(aarch64_missing)
  if [[ -z $missing ]]; then
    cargo build --release --locked --target "$aarch64_target"
    mkdir -p "$resources/native/linux-aarch64"
    cp "target/$aarch64_target/release/libdirectmem.so" "$resources/native/linux-aarch64/"
  elif [[ ${DIRECTMEM_ALL_PLATFORMS:-} == 1 ]]; then
    echo "DIRECTMEM_ALL_PLATFORMS=1, but the linux-aarch64 library cannot be built: $missing" >&2
    return 1
  else
    echo "note: the jar holds the linux-x86_64 library only, $missing" >&2
  fi
}
