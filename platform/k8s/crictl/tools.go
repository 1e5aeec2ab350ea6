//go:build tools

// Package tools pins the crictl command built by platform/build-k8s.sh.
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
