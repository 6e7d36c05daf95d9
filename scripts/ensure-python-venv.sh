#!/usr/bin/env bash
# A Python virtual environment with Temporal's Python SDK, for the cross-language client tests
# (test/clients), and botocore, whose SigV4 signer checks the simulator's XKS proxy stand-in
# (test/sim/xks-proxy.test.ts). Idempotent: it reinstalls only when
# test/clients/python/requirements.txt changed. Installs Debian's python3 and python3-venv when
# they are missing (as root, or with sudo). Prints the path of the environment's python on its
# last line.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/python-venv
requirements=test/clients/python/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-python-venv: $1; install Python 3.9 or newer with its venv module" >&2
    exit 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "ensure-python-venv: $1; as root: apt-get install python3 python3-venv" >&2
      exit 1
    }
    sudo=(sudo)
  fi
  echo "ensure-python-venv: $1; installing Debian's python3 and python3-venv" >&2
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a NEEDRESTART_SUSPEND=1
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
}

if [[ -x "$venv/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
  echo "$(pwd)/$venv/bin/python"
  exit 0
fi
command -v python3 >/dev/null 2>&1 || apt_install "python3 is not installed"
rm -rf "$venv"
if ! python3 -m venv "$venv" >/dev/null 2>&1; then
  rm -rf "$venv"
  apt_install "python3 -m venv does not work (no venv module)"
  python3 -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2
echo "$want" >"$stamp"
echo "$(pwd)/$venv/bin/python"
