#!/usr/bin/env bash
# System tools the deployment and metrics tests use: Prometheus + promtool (Debian's prometheus)
# and kubectl (its built-in kustomize composes the k8s overlays); Chromium for the run page's
# browser test (test/ui, driven by playwright-core, which downloads no browser of its own).
# Installs only what is missing.
set -euo pipefail
missing=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
command -v kubectl >/dev/null || missing+=(kubectl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# sed reads to the end: 'head -1' can close the pipe early, and under pipefail the writer's
# SIGPIPE (exit 141) would fail CI.
promtool --version 2>&1 | sed -n 1p
kubectl version --client 2>/dev/null | sed -n 1p
/usr/bin/chromium --version 2>/dev/null | sed -n 1p
