#!/usr/bin/env bash
# Rules as code against a Sluice controller (docs/rules-as-code.md).
#
#   sluice-config.sh export [FILE]   write the current rule set to FILE
#   sluice-config.sh plan   [FILE]   show what applying FILE would change
#   sluice-config.sh apply  [FILE]   apply FILE, exactly the plan it prints
#
# FILE defaults to sluice/rules.json. SLUICE_TOKEN is an API token (viewer
# to export, editor or admin to plan and apply); SLUICE_API defaults to
# http://127.0.0.1:8080. Exits non-zero, with the server's error, when the
# file is invalid (every problem listed), the token may not do it, or the
# rule set changed between the plan and the apply.
set -euo pipefail

command="${1:-}"
file="${2:-sluice/rules.json}"
api="${SLUICE_API:-http://127.0.0.1:8080}"
: "${SLUICE_TOKEN:?set SLUICE_TOKEN to a Sluice API token}"
auth=(-H "Authorization: Bearer $SLUICE_TOKEN")
json=(-H "Content-Type: application/json")

pretty() { python3 -m json.tool --indent 2; }

case "$command" in
  export)
    mkdir -p "$(dirname "$file")"
    curl -sS --fail-with-body "${auth[@]}" "$api/api/v1/config" | pretty > "$file.tmp"
    mv "$file.tmp" "$file"
    echo "wrote $file" >&2
    ;;
  plan)
    curl -sS --fail-with-body -X PUT "${auth[@]}" "${json[@]}" \
      --data-binary "@$file" "$api/api/v1/config?dry_run=true" | pretty
    ;;
  apply)
    # Plan first and apply on condition that nothing changed since
    # (If-Match: the plan's ETag, the rule set's revision), so what is
    # applied is exactly the plan printed. 412 means someone changed the
    # rules meanwhile: run it again and read the new plan.
    headers="$(mktemp)"
    trap 'rm -f "$headers"' EXIT
    curl -sS --fail-with-body -D "$headers" -X PUT "${auth[@]}" "${json[@]}" \
      --data-binary "@$file" "$api/api/v1/config?dry_run=true" | pretty
    etag="$(tr -d '\r' < "$headers" | sed -n 's/^etag: *//Ip')"
    [ -n "$etag" ] || { echo "the plan came without an ETag" >&2; exit 1; }
    curl -sS --fail-with-body -X PUT "${auth[@]}" "${json[@]}" -H "If-Match: $etag" \
      --data-binary "@$file" "$api/api/v1/config" | pretty
    ;;
  *)
    echo "usage: $0 export|plan|apply [FILE]" >&2
    exit 2
    ;;
esac
