#!/usr/bin/env bash
# Adds the messages marked in the code (`_`, `ngettext`, `N_`; see babel.cfg) to both catalogs and
# drops the ones no longer used. New entries arrive with an empty msgstr: fill them in
# omie_pipeline/locale/{pt_BR,en}/LC_MESSAGES/messages.po; tests/i18n fails until every one is.
set -euo pipefail
cd "$(dirname "$0")/.."
template=$(mktemp --suffix=.pot)
trap 'rm -f "$template"' EXIT
.venv/bin/pybabel extract -F babel.cfg --no-location --project=omie-pipeline -o "$template" . 2>/dev/null
.venv/bin/pybabel update -i "$template" -d omie_pipeline/locale -D messages --no-fuzzy-matching --ignore-obsolete -w 100

