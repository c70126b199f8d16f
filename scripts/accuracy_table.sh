#!/usr/bin/env bash
# Reproduces the accuracy table in docs/training.md: record a CarRacing expert tub, train the float
# PilotNet, then fine-tune W4A4 / W8A8 / W2A2 from it (and W4A4 from scratch for comparison).
# One run at a time, one torch thread (the machine is shared): about 60 minutes on 2 busy cores.
set -euo pipefail
OUT=${OUT:-out/train}
EPOCHS=${EPOCHS:-8}
QAT_EPOCHS=${QAT_EPOCHS:-5}
HW=.venv/bin/hwgen
mkdir -p "$OUT"
[ -f "$OUT/carracing_tub/manifest.json" ] || .venv/bin/python -c "
from hwgen.data.carracing import record
record('$OUT/carracing_tub', episodes=18, seed=1000, record_every=2)"
TUB="$OUT/carracing_tub"
train() {  # name, then hwgen train options; skips finished runs, resumes interrupted ones
  local name=$1; shift
  [ -f "$OUT/$name/run.json" ] && return
  local resume=(); [ -f "$OUT/$name/last.pt" ] && resume=(--resume)
  $HW train --data "$TUB" --out "$OUT/$name" --patience 4 --threads "${THREADS:-1}" "${resume[@]}" "$@"
}
train pilotnet-float --preset pilotnet-float --epochs "$EPOCHS"
train pilotnet-w4a4 --preset pilotnet-w4a4 --epochs "$QAT_EPOCHS" --init "$OUT/pilotnet-float"
train pilotnet-w8a8 --preset pilotnet-w8a8 --epochs "$QAT_EPOCHS" --init "$OUT/pilotnet-float"
train pilotnet-w2a2 --preset pilotnet-w2a2 --epochs "$QAT_EPOCHS" --init "$OUT/pilotnet-float"
train pilotnet-w4a4-scratch --preset pilotnet-w4a4 --epochs "$EPOCHS"
.venv/bin/python scripts/accuracy_table.py "$OUT"
