package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRequiredPackages(t *testing.T) {
	dir := t.TempDir()
	nm := filepath.Join(dir, "node_modules")
	writeFile(t, filepath.Join(nm, "@pulumi", "pulumi", "package.json"),
		`{"name":"@pulumi/pulumi","version":"3.248.0","pulumi":{"comment":"not a plugin"}}`)
	writeFile(t, filepath.Join(nm, "@pulumi", "kubernetes", "package.json"),
		`{"name":"@pulumi/kubernetes","version":"4.25.0","pulumi":{"resource":true,"name":"kubernetes","version":"4.25.0"}}`)
	// nested copy at another version, and a duplicate of the same version
	writeFile(t, filepath.Join(nm, "x", "package.json"), `{"name":"x","version":"1.0.0"}`)
	writeFile(t, filepath.Join(nm, "x", "node_modules", "@pulumi", "random", "package.json"),
		`{"name":"@pulumi/random","version":"4.16.0","pulumi":{"resource":true}}`)
	writeFile(t, filepath.Join(nm, "y", "node_modules", "@pulumi", "kubernetes", "package.json"),
		`{"name":"@pulumi/kubernetes","version":"4.25.0","pulumi":{"resource":true,"name":"kubernetes","version":"4.25.0"}}`)
	// third-party plugin without a pulumi.name is skipped
	writeFile(t, filepath.Join(nm, "acme-provider", "package.json"),
		`{"name":"acme-provider","version":"1.0.0","pulumi":{"resource":true}}`)
	// symlinked (workspace / file:) package
	other := filepath.Join(dir, "sdks", "comp")
	writeFile(t, filepath.Join(other, "package.json"),
		`{"name":"@pulumi/comp","version":"0.1.0","pulumi":{"resource":true,"name":"comp","version":"0.1.0","server":"https://example.invalid"}}`)
	if err := os.Symlink(other, filepath.Join(nm, "@pulumi", "comp")); err != nil {
		t.Fatal(err)
	}

	got := requiredPackages(dir)
	want := []string{"comp v0.1.0 https://example.invalid", "kubernetes v4.25.0 ", "random v4.16.0 "}
	if len(got) != len(want) {
		t.Fatalf("got %d packages (%v), want %v", len(got), got, want)
	}
	for i, p := range got {
		if s := p.Name + " " + p.Version + " " + p.Server; s != want[i] || p.Kind != "resource" {
			t.Errorf("package %d = %q (kind %q), want %q", i, s, p.Kind, want[i])
		}
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(nil)
	if err != nil || !o.typescript {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	s, _ := structpb.NewStruct(map[string]any{
		"typescript": false, "tsconfig": "tsconfig.pulumi.json", "nodeargs": "--max-old-space-size=4096 --inspect",
		"packagemanager": "pnpm",
	})
	o, err = parseOptions(s)
	if err != nil {
		t.Fatal(err)
	}
	if o.typescript || o.tsconfig != "tsconfig.pulumi.json" || len(o.nodeargs) != 2 || o.packagemanager != "pnpm" {
		t.Fatalf("unexpected %+v", o)
	}
	if env := o.tsEnv(); len(env) != 1 || env[0] != "PULUMI_NODEJS_TSCONFIG_PATH=tsconfig.pulumi.json" {
		t.Fatalf("tsEnv = %v", env)
	}
	bad, _ := structpb.NewStruct(map[string]any{"typescript": "yes"})
	if _, err := parseOptions(bad); err == nil {
		t.Fatal("expected an error for a non-boolean typescript option")
	}
}

func TestPackageManager(t *testing.T) {
	dir := t.TempDir()
	if pm := packageManager(dir, ""); pm != "npm" {
		t.Fatalf("default = %s", pm)
	}
	writeFile(t, filepath.Join(dir, "yarn.lock"), "")
	if pm := packageManager(dir, "auto"); pm != "yarn" {
		t.Fatalf("with yarn.lock = %s", pm)
	}
	if pm := packageManager(dir, "npm"); pm != "npm" {
		t.Fatalf("explicit = %s", pm)
	}
}

// GetRequiredPackages / GetRequiredPlugins through the gRPC service, over a node_modules tree
// with the awkward cases: parameterized packages, hidden entries, stray files, broken and cyclic
// symlinks, unreadable manifests.
func TestGetRequiredPackagesService(t *testing.T) {
	dir := realDir(t)
	nm := filepath.Join(dir, "node_modules")
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"prog"}`)
	// Parameterized package (a provider SDK generated for a parameterized plugin).
	writeFile(t, filepath.Join(nm, "@acme", "tf-aws", "package.json"), `{"name":"@acme/tf-aws","version":"1.2.3",
		"pulumi":{"resource":true,"name":"terraform-provider","version":"0.8.1","server":"https://example.invalid/tf",
		"parameterization":{"name":"aws","version":"5.0.0","value":"aGVsbG8="}}}`)
	// pulumi.version wins over the package version; an existing "v" is kept.
	writeFile(t, filepath.Join(nm, "@pulumi", "kubernetes", "package.json"),
		`{"name":"@pulumi/kubernetes","version":"4.25.0-alpha.1","pulumi":{"resource":true,"version":"v4.25.0"}}`)
	// Hidden entries and stray files are ignored, broken manifests are skipped.
	writeFile(t, filepath.Join(nm, ".bin", "package.json"), `{"name":"hidden","version":"1.0.0","pulumi":{"resource":true,"name":"hidden"}}`)
	writeFile(t, filepath.Join(nm, ".package-lock.json"), `{}`)
	writeFile(t, filepath.Join(nm, "broken", "package.json"), `{"name":`)
	writeFile(t, filepath.Join(nm, "broken", "node_modules", "@pulumi", "random", "package.json"),
		`{"name":"@pulumi/random","version":"4.16.0","pulumi":{"resource":true}}`)
	if err := os.Symlink(filepath.Join(dir, "does-not-exist"), filepath.Join(nm, "dangling")); err != nil {
		t.Fatal(err)
	}
	// A symlink cycle (a package whose node_modules links back to itself) is walked once.
	writeFile(t, filepath.Join(nm, "cyclic", "package.json"), `{"name":"cyclic","version":"1.0.0"}`)
	if err := os.MkdirAll(filepath.Join(nm, "cyclic", "node_modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(nm, "cyclic"), filepath.Join(nm, "cyclic", "node_modules", "cyclic")); err != nil {
		t.Fatal(err)
	}

	client, _ := startHost(t, "")
	resp, err := client.GetRequiredPackages(context.Background(), &pulumirpc.GetRequiredPackagesRequest{
		Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.GetPackages() {
		s := p.GetKind() + " " + p.GetName() + " " + p.GetVersion() + " " + p.GetServer()
		if pp := p.GetParameterization(); pp != nil {
			s += " param " + pp.GetName() + " " + pp.GetVersion() + " " + string(pp.GetValue())
		}
		got = append(got, s)
	}
	want := []string{
		"resource kubernetes v4.25.0 ",
		"resource random v4.16.0 ",
		"resource terraform-provider v0.8.1 https://example.invalid/tf param aws 5.0.0 hello",
	}
	if !equalStrings(got, want) {
		t.Errorf("GetRequiredPackages\n got %q\nwant %q", got, want)
	}

	// The older GetRequiredPlugins gives the same plugins (without parameterization), here found
	// through the deprecated pwd field.
	plugins, err := client.GetRequiredPlugins(context.Background(), &pulumirpc.GetRequiredPluginsRequest{Pwd: dir})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, p := range plugins.GetPlugins() {
		got = append(got, p.GetKind()+" "+p.GetName()+" "+p.GetVersion()+" "+p.GetServer())
	}
	want = []string{"resource kubernetes v4.25.0 ", "resource random v4.16.0 ", "resource terraform-provider v0.8.1 https://example.invalid/tf"}
	if !equalStrings(got, want) {
		t.Errorf("GetRequiredPlugins\n got %q\nwant %q", got, want)
	}

	// Packages of every kind are listed (once) for transitive program dependencies.
	var names []string
	for _, p := range walkNodeModules(dir) {
		names = append(names, p.m.Name+"@"+p.m.Version)
	}
	sort.Strings(names)
	if want := []string{"@acme/tf-aws@1.2.3", "@pulumi/kubernetes@4.25.0-alpha.1", "@pulumi/random@4.16.0", "cyclic@1.0.0"}; !equalStrings(names, want) {
		t.Errorf("walkNodeModules = %q, want %q", names, want)
	}
}

func TestPluginOf(t *testing.T) {
	m := &manifest{Name: "@pulumi/aws", Version: "6.0.0"}
	if dep, err := pluginOf(m); dep != nil || err != nil {
		t.Errorf("no resource flag: %v %v", dep, err)
	}
	m.Pulumi.Resource = true
	if dep, err := pluginOf(m); err != nil || dep.Name != "aws" || dep.Version != "v6.0.0" {
		t.Errorf("@pulumi/ package: %v %v", dep, err)
	}
	if _, err := pluginOf(&manifest{Name: "@pulumi/aws", Pulumi: m.Pulumi}); err == nil ||
		err.Error() != "package @pulumi/aws has no version" {
		t.Errorf("missing version: %v", err)
	}
	if _, err := pluginOf(&manifest{Name: "acme", Version: "1.0.0", Pulumi: m.Pulumi}); err == nil ||
		err.Error() != `package acme declares a resource plugin without a "pulumi.name"` {
		t.Errorf("third-party package without a name: %v", err)
	}
}

func TestGetProgramDependencies(t *testing.T) {
	dir := realDir(t)
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"prog",
		"dependencies":{"@pulumi/pulumi":"3.248.0","left-pad":"^1.3.0"},"devDependencies":{"typescript":"^5.9.0"}}`)
	nm := filepath.Join(dir, "node_modules")
	writeFile(t, filepath.Join(nm, "@pulumi", "pulumi", "package.json"), `{"name":"@pulumi/pulumi","version":"3.248.0"}`)
	writeFile(t, filepath.Join(nm, "typescript", "package.json"), `{"name":"typescript","version":"5.9.3"}`)
	writeFile(t, filepath.Join(nm, "ts-node", "package.json"), `{"name":"ts-node","version":"10.9.2"}`)
	client, _ := startHost(t, "")
	list := func(transitive bool) []string {
		t.Helper()
		resp, err := client.GetProgramDependencies(context.Background(), &pulumirpc.GetProgramDependenciesRequest{
			Info: &pulumirpc.ProgramInfo{ProgramDirectory: dir}, TransitiveDependencies: transitive,
		})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range resp.GetDependencies() {
			out = append(out, d.GetName()+" "+d.GetVersion())
		}
		return out
	}
	if got, want := list(false), []string{"@pulumi/pulumi 3.248.0", "left-pad (not installed)", "typescript 5.9.3"}; !equalStrings(got, want) {
		t.Errorf("direct dependencies %q, want %q", got, want)
	}
	if got, want := list(true), []string{"@pulumi/pulumi 3.248.0", "ts-node 10.9.2", "typescript 5.9.3"}; !equalStrings(got, want) {
		t.Errorf("transitive dependencies %q, want %q", got, want)
	}
	_, err := client.GetProgramDependencies(context.Background(), &pulumirpc.GetProgramDependenciesRequest{Pwd: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "reading the program's package.json") {
		t.Errorf("without package.json: %v", err)
	}
}

func TestLastLine(t *testing.T) {
	nodeStderr := "node:internal/modules/cjs/loader:1210\n  throw err;\n  ^\n\n" +
		"Error: Cannot find module '@pulumi/pulumi/cmd/run'\nRequire stack:\n- /tmp/x/[eval]\n" +
		"    at Module._resolveFilename (node:internal/modules/cjs/loader:1207:15)\n" +
		"    at node:internal/main/eval_string:51:3 {\n  code: 'MODULE_NOT_FOUND',\n" +
		"  requireStack: [ '/tmp/x/[eval]' ]\n}\n\nNode.js v20.20.2\n"
	for in, want := range map[string]string{
		nodeStderr: "Error: Cannot find module '@pulumi/pulumi/cmd/run'",
		"[eval]:1\nfoo(\n    ^\n\nSyntaxError: Unexpected end of input\n    at makeContextifyScript\n\nNode.js v20.20.2\n": "SyntaxError: Unexpected end of input",
		"something odd\n    at x\n": "something odd",
		"":                          "",
	} {
		if got := lastLine(in); got != want {
			t.Errorf("lastLine(%q) = %q, want %q", in, got, want)
		}
	}
}
