# Sourced by scripts/serve and scripts/test: create .venv and install the project into it
# when missing or when pyproject.toml changed since the last install.
# Usage: ensure_venv EXTRAS   (e.g. ensure_venv "" or ensure_venv "[test,postgres]")
ensure_venv() {
  local extras=$1 py=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $($py --version)"
    "$py" -m venv .venv
  fi
  local stamp=".venv/.tcpladder-installed$extras"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    .venv/bin/python -m pip install -q -e ".$extras" 2>&1 | grep -v "^WARNING: Location" || true
    .venv/bin/python -c "import app, fastapi, scapy" # fail loudly if the install did not work
    touch "$stamp"
  fi
}
