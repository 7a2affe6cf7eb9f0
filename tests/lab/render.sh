#!/usr/bin/env bash
# The one way the lab's configuration templates become files. Sourced, not run, by
# tests/lab/peers.sh (tests/lab/peers/<peer>/), tests/lab/mta/common.sh (tests/lab/mta/<mta>/) and
# tests/lab/sshd.sh (tests/lab/peers/sshd/).
#
# A template is the file as the server reads it, with @NAME@ where the shell variable NAME's value
# goes. A value may itself hold placeholders (a shared fragment read from a file): they are filled
# in turn. An unknown placeholder is an error, never an empty string.

# lab_render <template> <destination> [<mode>] : writes the filled template to <destination>
# (mode 0644 unless given), atomically; a destination that already holds exactly that text is left
# as it is. When LAB_RENDERED names a file, each destination (re)written is appended to it, one a
# line, so that a caller can reload only the servers whose configuration changed.
lab_render() {
  local src=$1 dst=$2 mode=${3:-0644} text name tmp
  text=$(<"$src") || exit 1
  while [[ $text =~ @([A-Z][A-Z0-9_]*)@ ]]; do
    name=${BASH_REMATCH[1]}
    [[ -n ${!name+x} ]] || { echo "lab_render: ERROR: $src: no value for @$name@" >&2; exit 1; }
    text=${text//"@$name@"/"${!name}"}
  done
  if [[ -f $dst ]] && printf '%s\n' "$text" | cmp -s - "$dst"; then return 0; fi
  install -d "$(dirname "$dst")"
  tmp=$(mktemp "$dst.XXXXXX")
  printf '%s\n' "$text" >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dst"
  if [[ -n ${LAB_RENDERED:-} ]]; then echo "$dst" >>"$LAB_RENDERED"; fi
}
