#!/usr/bin/env bash
# Installs what the build and tests need on a fresh machine of this kind (Debian 12, root).
# Idempotent and quick when everything is already there.
set -euo pipefail
need=()
command -v gcc   >/dev/null || need+=(gcc)
command -v make  >/dev/null || need+=(make)
command -v objcopy >/dev/null || need+=(binutils)
command -v gdb   >/dev/null || need+=(gdb)
command -v mvn   >/dev/null || need+=(maven)
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v g++   >/dev/null || need+=(g++)
command -v sotruss >/dev/null || need+=(libc-devtools) # the LD_AUDIT tests compare with glibc's sotruss
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "tests/setup.sh: missing ${need[*]}; install them (apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
