#!/usr/bin/env bash
# Writes secrets.env (git-ignored) beside this script from secrets.example.env: the Postgres and Redis
# placeholders become two random 32-character hex passwords. Refuses to overwrite an existing file.
set -euo pipefail
cd "$(dirname "$0")"
if [ -e secrets.env ]; then
  echo "secrets.env exists; delete it first to generate new passwords" >&2
  exit 1
fi
random_password() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
postgres=$(random_password)
redis=$(random_password)
umask 077
sed -e "s/^postgres-password=CHANGE_ME$/postgres-password=${postgres}/" \
    -e "s/^redis-password=CHANGE_ME$/redis-password=${redis}/" \
    -e "s/^\(cellsegdb=.*\)Password=CHANGE_ME/\1Password=${postgres}/" \
    -e "s/^\(redis=.*\)password=CHANGE_ME/\1password=${redis}/" \
    secrets.example.env | grep -v '^#' > secrets.env
if grep -q CHANGE_ME secrets.env; then
  echo "secrets.example.env has a placeholder this script does not know" >&2
  rm -f secrets.env
  exit 1
fi
echo "wrote $(pwd)/secrets.env"
