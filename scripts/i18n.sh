#!/usr/bin/env sh
# Re-extract translatable strings and update the catalogues. Run from anywhere:
#   scripts/i18n.sh
# then translate the new (empty) msgstr entries in web/locale/zh_CN/LC_MESSAGES/messages.po
# (keep %(name)s placeholders; never a lone "%": Jinja %-formats every template string).
# English is the source language: its msgstr may stay empty (the msgid is shown).
# Domain messages (db/) are listed for extraction in web/locale/domain_messages.py.
# tests/test_i18n.py fails until every zh_CN entry is translated and the .pot is current.
set -eu
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
[ -x "$PYBABEL" ] || PYBABEL=pybabel
POT=web/locale/messages.pot
NEW="$(mktemp)"
trap 'rm -f "$NEW"' EXIT

"$PYBABEL" -q extract -F babel.cfg -k N_ --no-location --sort-output --no-wrap \
    --add-comments=TRANSLATORS: --project="Shop CRM" --version=0.1 \
    --copyright-holder="the Shop CRM authors" -o "$NEW" .

# Keep the files untouched when only the creation date would change (small diffs).
if [ -f "$POT" ] && [ "$(grep -v '^"POT-Creation-Date:' "$NEW")" = "$(grep -v '^"POT-Creation-Date:' "$POT")" ]; then
    echo "messages.pot is up to date"
else
    cp "$NEW" "$POT"
    echo "messages.pot updated"
fi

for lang in zh_CN en; do
    po="web/locale/$lang/LC_MESSAGES/messages.po"
    if [ -f "$po" ]; then
        "$PYBABEL" -q update -i "$POT" -d web/locale -l "$lang" \
            --no-fuzzy-matching --ignore-obsolete --no-wrap
    else
        "$PYBABEL" -q init -i "$POT" -d web/locale -l "$lang" --no-wrap
    fi
done
