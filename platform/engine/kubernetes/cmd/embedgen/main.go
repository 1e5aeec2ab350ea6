// Command embedgen prepares the files that our pulumi-resource-kubernetes main embeds:
//
//	embedgen <provider-module-dir> <version> <out-dir>
//
// It copies the provider module's cmd/pulumi-resource-kubernetes/schema.json with its "version"
// field set to <version> (the engine and the SDKs expect the schema version to match the plugin
// version), and a compacted terraform-mapping.json.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: embedgen <provider-module-dir> <version> <out-dir>")
		os.Exit(2)
	}
	src := filepath.Join(os.Args[1], "cmd", "pulumi-resource-kubernetes")
	version, out := os.Args[2], os.Args[3]
	if err := run(src, version, out); err != nil {
		fmt.Fprintln(os.Stderr, "embedgen:", err)
		os.Exit(1)
	}
}

func run(src, version, out string) error {
	raw, err := os.ReadFile(filepath.Join(src, "schema.json"))
	if err != nil {
		return err
	}
	var schema map[string]json.RawMessage
	if err := json.Unmarshal(raw, &schema); err != nil {
		return fmt.Errorf("schema.json: %w", err)
	}
	if schema["version"], err = json.Marshal(version); err != nil {
		return err
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "schema-embed.json"), b, 0o644); err != nil {
		return err
	}

	raw, err = os.ReadFile(filepath.Join(src, "terraform-mapping.json"))
	if err != nil {
		return err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return fmt.Errorf("terraform-mapping.json: %w", err)
	}
	return os.WriteFile(filepath.Join(out, "terraform-mapping-embed.json"), compact.Bytes(), 0o644)
}
