#!/usr/bin/env bash
# System tools the deployment and metrics tests use: Prometheus + promtool (Debian's prometheus)
# and kubectl (its built-in kustomize composes the k8s overlays). Installs only what is missing.
set -euo pipefail
missing=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
command -v kubectl >/dev/null || missing+=(kubectl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
promtool --version | head -1
kubectl version --client 2>/dev/null | head -1
