// Command pulumi-resource-kubernetes is our own entry point for the Kubernetes resource provider.
//
// The upstream module's main package embeds files produced by `go generate` that are not part of the
// module zip, so build-engine.sh writes schema-embed.json (the module's schema.json with its "version"
// field set) and terraform-mapping-embed.json next to this file before `go build`. Both are generated
// and git-ignored.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
