package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A provider module layout in miniature: <module>/cmd/pulumi-resource-kubernetes/{schema,terraform-mapping}.json.
const (
	schemaJSON = `{
  "name": "kubernetes",
  "version": "0.0.1-alpha.0+dev",
  "resources": {
    "kubernetes:apps/v1:StatefulSet": {"description": "A <b>StatefulSet</b> & more"}
  },
  "language": {"nodejs": {"dependencies": {"@pulumi/pulumi": "^3.0.0"}}}
}
`
	mappingJSON = `{
  "provider": {"name": "kubernetes"},
  "resources": { "kubernetes_stateful_set": { "tok": "kubernetes:apps/v1:StatefulSet" } }
}
`
)

func fixtureModule(t *testing.T, schema, mapping string) (module, src string) {
	t.Helper()
	module = t.TempDir()
	src = filepath.Join(module, "cmd", "pulumi-resource-kubernetes")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"schema.json": schema, "terraform-mapping.json": mapping} {
		if content == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return module, src
}

func TestRun(t *testing.T) {
	_, src := fixtureModule(t, schemaJSON, mappingJSON)
	out := t.TempDir()
	if err := run(src, "4.25.0", out); err != nil {
		t.Fatal(err)
	}

	got, err := os.ReadFile(filepath.Join(out, "schema-embed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema, orig map[string]any
	if err := json.Unmarshal(got, &schema); err != nil {
		t.Fatalf("schema-embed.json is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(schemaJSON), &orig); err != nil {
		t.Fatal(err)
	}
	// Only the version changes; everything else is carried over as is.
	if schema["version"] != "4.25.0" {
		t.Errorf("version = %v, want 4.25.0", schema["version"])
	}
	orig["version"] = "4.25.0"
	a, _ := json.Marshal(schema)
	b, _ := json.Marshal(orig)
	if !bytes.Equal(a, b) {
		t.Errorf("schema content changed:\n got %s\nwant %s", a, b)
	}
	if bytes.ContainsAny(got, "\n\t") || bytes.Contains(got, []byte(": ")) {
		t.Errorf("schema-embed.json is not compact: %s", got)
	}
	// Strings keep their text (the JSON escaping of <, > and & does not change the value).
	if desc := schema["resources"].(map[string]any)["kubernetes:apps/v1:StatefulSet"].(map[string]any)["description"]; desc != "A <b>StatefulSet</b> & more" {
		t.Errorf("description = %q", desc)
	}

	got, err = os.ReadFile(filepath.Join(out, "terraform-mapping-embed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"provider":{"name":"kubernetes"},"resources":{"kubernetes_stateful_set":{"tok":"kubernetes:apps/v1:StatefulSet"}}}`; string(got) != want {
		t.Errorf("terraform-mapping-embed.json = %s, want %s", got, want)
	}
}

func TestRunErrors(t *testing.T) {
	for _, c := range []struct {
		name, schema, mapping, want string
	}{
		{"no schema", "", mappingJSON, "schema.json: no such file or directory"},
		{"bad schema", `{"name":`, mappingJSON, "schema.json: unexpected end of JSON input"},
		{"schema not an object", `[1,2]`, mappingJSON, "schema.json: json: cannot unmarshal array"},
		{"no mapping", schemaJSON, "", "terraform-mapping.json: no such file or directory"},
		{"bad mapping", schemaJSON, `{"provider": }`, "terraform-mapping.json: invalid character '}'"},
	} {
		_, src := fixtureModule(t, c.schema, c.mapping)
		err := run(src, "4.25.0", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// The output directory must exist (build-engine.sh writes next to the provider's main).
	_, src := fixtureModule(t, schemaJSON, mappingJSON)
	if err := run(src, "4.25.0", filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing output directory: %v", err)
	}
}

// main: usage errors exit 2, failures exit 1, success writes both files where build-engine.sh
// asks for them (`embedgen <provider-module-dir> <version> <out-dir>`).
func TestMainCommand(t *testing.T) {
	if os.Getenv("STS_CANARY_TEST_AS_EMBEDGEN") == "1" {
		os.Args = append([]string{"embedgen"}, strings.Split(os.Getenv("EMBEDGEN_ARGS"), "\n")...)
		main()
		os.Exit(0)
	}
	embedgen := func(args ...string) (int, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMainCommand$")
		cmd.Env = append(os.Environ(), "STS_CANARY_TEST_AS_EMBEDGEN=1", "EMBEDGEN_ARGS="+strings.Join(args, "\n"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode(), stderr.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, stderr.String()
	}
	if code, stderr := embedgen("only-one-arg"); code != 2 || !strings.Contains(stderr, "usage: embedgen <provider-module-dir> <version> <out-dir>") {
		t.Errorf("usage: exit %d, stderr %q", code, stderr)
	}
	module, _ := fixtureModule(t, schemaJSON, mappingJSON)
	out := t.TempDir()
	if code, stderr := embedgen(module, "4.25.0", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range []string{"schema-embed.json", "terraform-mapping-embed.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if code, stderr := embedgen(t.TempDir(), "4.25.0", out); code != 1 || !strings.HasPrefix(stderr, "embedgen: ") {
		t.Errorf("module without a schema: exit %d, stderr %q", code, stderr)
	}
}
