// Minimal pod sandbox ("pause") process for the local cluster's containerd: no image
// can be pulled from a public registry here, so platform/build-k8s.sh builds this and
// packs it into a local image. Standard library only.
module sts-canary.local/platform/k8s/pause

go 1.24.0
