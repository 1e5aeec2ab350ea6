//go:build tools

// Package tools pins the local-path-provisioner command built by platform/build-k8s.sh.
package tools

import _ "github.com/rancher/local-path-provisioner"
