package main

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

func writeFile(t *testing.T, path, content string) {
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
