package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// GeneratePackage writes a TypeScript SDK for a schema (used by `pulumi package add` and
// `pulumi package gen-sdk --language nodejs`) using the nodejs generator of the Pulumi Go SDK.
func (h *host) GeneratePackage(ctx context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	client, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, fmt.Errorf("connecting to the schema loader: %w", err)
	}
	defer client.Close()
	loader := schema.NewCachedLoader(client)

	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.GetSchema()), &spec); err != nil {
		return nil, fmt.Errorf("parsing schema: %w", err)
	}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}
	if diags.HasErrors() {
		return resp, nil
	}
	files, err := nodejs.GeneratePackage("pulumi-language-nodejs", pkg, req.GetExtraFiles(),
		req.GetLocalDependencies(), req.GetLocal(), loader)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		dst := filepath.Join(req.GetDirectory(), name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// Link adds generated SDKs to the program's package.json as `file:` dependencies (via
// `npm pkg set`, which keeps the file's formatting); the engine installs them afterwards.
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	root := req.GetInfo().GetRootDirectory()
	dir := programDir(req.GetInfo(), root)
	if root == "" {
		root = dir
	}
	var imports strings.Builder
	for _, dep := range req.GetPackages() {
		sdkDir := dep.GetPath()
		if !filepath.IsAbs(sdkDir) {
			sdkDir = filepath.Join(root, sdkDir)
		}
		m, err := readManifest(filepath.Join(sdkDir, "package.json"))
		if err != nil {
			return nil, fmt.Errorf("reading the generated SDK's package.json: %w", err)
		}
		rel, err := filepath.Rel(dir, sdkDir)
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, "npm", "pkg", "set",
			fmt.Sprintf("dependencies.%s=file:%s", m.Name, filepath.ToSlash(rel)))
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("npm pkg set failed: %w: %s", err, out)
		}
		fmt.Fprintf(&imports, "  import * as %s from \"%s\";\n", jsIdentifier(dep.GetPackage().GetName()), m.Name)
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can import the SDK in your TypeScript code with:\n\n" + imports.String(),
	}, nil
}

// jsIdentifier turns a package name like "my-component" into "myComponent".
func jsIdentifier(name string) string {
	parts := strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == '/' })
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}
