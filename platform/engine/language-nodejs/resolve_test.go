package main

// Resolving @pulumi/pulumi entry points without starting node (resolveInNodeModules), checked
// against node's own require.resolve on awkward layouts, and About's npm version read from npm's
// package.json.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

const sdkManifest = `{"name":"@pulumi/pulumi","version":"3.248.0"}`

// resolveLayouts are node_modules layouts around a program directory. setup builds one under
// root and returns the directory to resolve from; fast says whether resolveInNodeModules answers
// by itself (else node must be asked); want is the expected answer relative to root ("" = node
// fails to resolve).
var resolveLayouts = []struct {
	name  string
	setup func(t *testing.T, root string) string
	env   map[string]string
	fast  bool
	want  string
}{
	{
		name: "program directory",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/package.json"), sdkManifest)
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			return root
		},
		fast: true, want: "node_modules/@pulumi/pulumi/cmd/run/index.js",
	},
	{
		name: "walks up from a subdirectory",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/package.json"), sdkManifest)
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			mkdir(t, filepath.Join(root, "infra/stacks"))
			return filepath.Join(root, "infra/stacks")
		},
		fast: true, want: "node_modules/@pulumi/pulumi/cmd/run/index.js",
	},
	{
		name: "no package.json in the SDK directory",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			return root
		},
		fast: true, want: "node_modules/@pulumi/pulumi/cmd/run/index.js",
	},
	{
		name: "program directory reached through a symlink (node runs in the real one)",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "real/node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			symlink(t, filepath.Join(root, "real"), filepath.Join(root, "other/link"))
			// Lexically, the link's parent has an SDK too; node walks up the real path.
			writeFile(t, filepath.Join(root, "other/node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			return filepath.Join(root, "other/link")
		},
		fast: true, want: "real/node_modules/@pulumi/pulumi/cmd/run/index.js",
	},
	{
		name: "SDK package is a symlink (workspaces, file: dependencies)",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "packages/sdk/package.json"), sdkManifest)
			writeFile(t, filepath.Join(root, "packages/sdk/cmd/run/index.js"), "")
			symlink(t, "../../../packages/sdk", filepath.Join(root, "app/node_modules/@pulumi/pulumi"))
			return filepath.Join(root, "app")
		},
		fast: true, want: "packages/sdk/cmd/run/index.js",
	},
	{
		name: "index.js is a symlink",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "store/run.js"), "")
			symlink(t, filepath.Join(root, "store/run.js"), filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"))
			return root
		},
		fast: true, want: "store/run.js",
	},
	{
		name: "a nearer SDK without the entry point: node goes on to the next node_modules",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			writeFile(t, filepath.Join(root, "app/node_modules/@pulumi/pulumi/package.json"), sdkManifest)
			return filepath.Join(root, "app")
		},
		fast: true, want: "node_modules/@pulumi/pulumi/cmd/run/index.js",
	},
	{
		name: "inside a node_modules directory (no node_modules/node_modules lookup)",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			writeFile(t, filepath.Join(root, "node_modules/node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			return filepath.Join(root, "node_modules")
		},
		fast: true, want: "node_modules/@pulumi/pulumi/cmd/run/index.js",
	},
	{
		name: "cmd/run.js wins over cmd/run/index.js",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run.js"), "")
			return root
		},
		fast: true, want: "node_modules/@pulumi/pulumi/cmd/run.js",
	},
	{
		name: "exports: exact string entry",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/package.json"),
				`{"name":"@pulumi/pulumi","exports":{".":"./index.js","./cmd/run":"./lib/run.js","./*":"./*.js"}}`)
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/lib/run.js"), "")
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			return root
		},
		fast: true, want: "node_modules/@pulumi/pulumi/lib/run.js",
	},
	{
		name: "exports: conditions",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/package.json"),
				`{"name":"@pulumi/pulumi","exports":{"./cmd/run":{"import":"./esm/run.mjs","require":"./cjs/run.js"}}}`)
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cjs/run.js"), "")
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/esm/run.mjs"), "")
			return root
		},
		fast: false, want: "node_modules/@pulumi/pulumi/cjs/run.js",
	},
	{
		name: "exports: pattern",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/package.json"),
				`{"name":"@pulumi/pulumi","exports":{"./cmd/*":"./bin/*/main.js"}}`)
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/bin/run/main.js"), "")
			return root
		},
		fast: false, want: "node_modules/@pulumi/pulumi/bin/run/main.js",
	},
	{
		name: "exports without the entry: not exported, even with the file present and an SDK further up",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			writeFile(t, filepath.Join(root, "app/node_modules/@pulumi/pulumi/package.json"),
				`{"name":"@pulumi/pulumi","exports":{".":"./index.js"}}`)
			writeFile(t, filepath.Join(root, "app/node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			return filepath.Join(root, "app")
		},
		fast: false, want: "",
	},
	{
		name: "exports entry pointing at a missing file",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/package.json"),
				`{"name":"@pulumi/pulumi","exports":{"./cmd/run":"./gone.js"}}`)
			return root
		},
		fast: false, want: "",
	},
	{
		name: "main of a package.json in the entry's directory",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/package.json"), `{"main":"start.js"}`)
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/start.js"), "")
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			return root
		},
		fast: false, want: "node_modules/@pulumi/pulumi/cmd/run/start.js",
	},
	{
		name: "entry directory without index.js",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.json"), "{}")
			return root
		},
		fast: false, want: "node_modules/@pulumi/pulumi/cmd/run/index.json",
	},
	{
		name: "NODE_PATH (asked only after every node_modules)",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "global/@pulumi/pulumi/cmd/run/index.js"), "")
			mkdir(t, filepath.Join(root, "app"))
			return filepath.Join(root, "app")
		},
		env:  map[string]string{"NODE_PATH": "global"},
		fast: false, want: "global/@pulumi/pulumi/cmd/run/index.js",
	},
	{
		name: "--preserve-symlinks",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "packages/sdk/cmd/run/index.js"), "")
			symlink(t, "../../packages/sdk", filepath.Join(root, "node_modules/@pulumi/pulumi"))
			return root
		},
		env:  map[string]string{"NODE_OPTIONS": "--preserve-symlinks"},
		fast: false, want: "node_modules/@pulumi/pulumi/cmd/run/index.js",
	},
	{
		name: "broken SDK package.json",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/package.json"), `{"name":`)
			writeFile(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
			return root
		},
		fast: false, want: "", // node: "Error parsing .../package.json"
	},
	{
		name: "nothing installed",
		setup: func(t *testing.T, root string) string {
			writeFile(t, filepath.Join(root, "package.json"), `{"name":"bare"}`)
			return root
		},
		fast: false, want: "",
	},
}

// Whatever resolveInNodeModules answers is node's answer, and it answers the usual layouts by
// itself; resolveInProject gives node's answer (or error) in every case.
func TestResolveMatchesNode(t *testing.T) {
	node := nodePath(t)
	ctx := context.Background()
	for _, c := range resolveLayouts {
		t.Run(c.name, func(t *testing.T) {
			root := realDir(t)
			dir := c.setup(t, root)
			for k, v := range c.env {
				if k == "NODE_PATH" {
					v = filepath.Join(root, v)
				}
				t.Setenv(k, v)
			}
			want := ""
			if c.want != "" {
				want = filepath.Join(root, c.want)
			}
			nodeSays, nodeErr := resolveWithNode(ctx, node, dir, "@pulumi/pulumi/cmd/run")
			if nodeErr != nil && want != "" || nodeErr == nil && nodeSays != want {
				t.Fatalf("fixture: node resolves %q (%v), the test expects %q", nodeSays, nodeErr, want)
			}

			got, fast := resolveInNodeModules(dir, "@pulumi/pulumi/cmd/run")
			if fast != c.fast || fast && got != want {
				t.Errorf("resolveInNodeModules = %q, %v; want %q, %v", got, fast, want, c.fast)
			}

			// The shared entry point: without node when the fast path answers, else node's answer.
			n := node
			if c.fast {
				n = filepath.Join(root, "no-such-node")
			}
			got, err := resolveInProject(ctx, n, dir, "@pulumi/pulumi/cmd/run")
			if want == "" {
				if err == nil || nodeErr == nil || err.Error() != nodeErr.Error() {
					t.Errorf("resolveInProject = %q, %v; want node's error %v", got, err, nodeErr)
				}
			} else if err != nil || got != want {
				t.Errorf("resolveInProject = %q, %v; want %q", got, err, want)
			}
		})
	}
}

// The other entry points go through the same function; a specifier it cannot split is node's.
func TestResolveOtherEntryPoints(t *testing.T) {
	root := realDir(t)
	paths := fakeSDK(t, root, map[string]string{"cmd/run-plugin": "", "cmd/run-policy-pack": "", "cmd/dynamic-provider": ""})
	for entry, want := range paths {
		if got, ok := resolveInNodeModules(root, "@pulumi/pulumi/"+entry); !ok || got != want {
			t.Errorf("%s: %q, %v; want %q", entry, got, ok, want)
		}
	}
	writeFile(t, filepath.Join(root, "node_modules/plain/lib/x.js"), "")
	if got, ok := resolveInNodeModules(root, "plain/lib/x"); !ok || got != filepath.Join(root, "node_modules/plain/lib/x.js") {
		t.Errorf("unscoped package: %q, %v", got, ok)
	}
	for _, module := range []string{"@pulumi/pulumi", "plain", "./cmd/run", "../x/y", "/abs/path", "node:fs",
		"@pulumi/pulumi/../x", "@pulumi/pulumi//run", "@pulumi/pulumi/cmd/%72un", "@pulumi"} {
		if got, ok := resolveInNodeModules(root, module); ok {
			t.Errorf("%q resolved to %q without node", module, got)
		}
	}
}

func TestSplitSpecifier(t *testing.T) {
	for in, want := range map[string][2]string{
		"@pulumi/pulumi/cmd/run": {"@pulumi/pulumi", "cmd/run"},
		"pkg/a/b":                {"pkg", "a/b"},
		"pkg":                    {"", ""},
		"@scope/pkg":             {"", ""},
		"./x/y":                  {"", ""},
		"pkg/./x":                {"", ""},
		`pkg\x`:                  {"", ""},
	} {
		name, sub, ok := splitSpecifier(in)
		if name != want[0] || sub != want[1] || ok != (want[0] != "") {
			t.Errorf("splitSpecifier(%q) = %q, %q, %v; want %q", in, name, sub, ok, want)
		}
	}
}

// fakeNpmInstall lays out npm as installed by Node.js: bin/npm -> ../lib/node_modules/npm/bin/
// npm-cli.js, whose package.json is manifest. npm-cli.js itself prints "9.9.9-ran" and leaves
// a marker, so a test sees whether it was started.
func fakeNpmInstall(t *testing.T, manifest string) (bin, marker string) {
	t.Helper()
	prefix := realDir(t)
	marker = filepath.Join(prefix, "npm-ran")
	cli := filepath.Join(prefix, "lib/node_modules/npm/bin/npm-cli.js")
	writeFile(t, cli, "#!/bin/sh\ntouch '"+marker+"'\necho 9.9.9-ran\n")
	if err := os.Chmod(cli, 0o755); err != nil {
		t.Fatal(err)
	}
	if manifest != "" {
		writeFile(t, filepath.Join(prefix, "lib/node_modules/npm/package.json"), manifest)
	}
	symlink(t, "../lib/node_modules/npm/bin/npm-cli.js", filepath.Join(prefix, "bin/npm"))
	return filepath.Join(prefix, "bin"), marker
}

// About reports npm's version from npm's package.json without starting npm, and asks npm when
// that package.json is missing, broken or belongs to something else (a corepack shim, ...).
func TestAboutNpmVersion(t *testing.T) {
	node := nodePath(t)
	for _, c := range []struct {
		name, manifest, want string
		ran                  bool
	}{
		{"package.json", `{"name":"npm","version":"10.1.2"}`, "10.1.2", false},
		{"another package's", `{"name":"corepack","version":"0.1.0"}`, "9.9.9-ran", true},
		{"broken", `{"name":"npm",`, "9.9.9-ran", true},
		{"no version", `{"name":"npm"}`, "9.9.9-ran", true},
		{"none", "", "9.9.9-ran", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin, marker := fakeNpmInstall(t, c.manifest)
			t.Setenv("PATH", bin+string(os.PathListSeparator)+filepath.Dir(node))
			h := newHost("")
			about, err := h.About(context.Background(), &pulumirpc.AboutRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: t.TempDir()}})
			if err != nil {
				t.Fatal(err)
			}
			if m := about.GetMetadata(); m["packagemanager"] != "npm" || m["packagemanagerVersion"] != c.want {
				t.Errorf("About metadata = %v, want npm %s", m, c.want)
			}
			if fileExists(marker) != c.ran {
				t.Errorf("npm started: %v, want %v", fileExists(marker), c.ran)
			}
		})
	}
}

// On this machine's real npm, the version read from package.json is what `npm --version` prints.
func TestNpmVersionOfInstalledNpm(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("no npm on $PATH")
	}
	out, err := exec.Command(npm, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := npmVersion(npm)
	if !ok || got != strings.TrimSpace(string(out)) {
		t.Errorf("npmVersion(%s) = %q, %v; npm --version says %q", npm, got, ok, strings.TrimSpace(string(out)))
	}
}

// go test -run '^$' -bench Resolve: the Go lookup against starting node for it.
func BenchmarkResolve(b *testing.B) {
	root, err := filepath.EvalSymlinks(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	writeFile(b, filepath.Join(root, "node_modules/@pulumi/pulumi/package.json"), sdkManifest)
	writeFile(b, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
	dir := filepath.Join(root, "a/b/c")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("no node on $PATH")
	}
	b.Run("go", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := resolveInNodeModules(dir, "@pulumi/pulumi/cmd/run"); !ok {
				b.Fatal("not resolved")
			}
		}
	})
	b.Run("node", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := resolveWithNode(context.Background(), node, dir, "@pulumi/pulumi/cmd/run"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// go test -run '^$' -bench NpmVersion: npm's package.json against `npm --version`.
func BenchmarkNpmVersion(b *testing.B) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		b.Skip("no npm on $PATH")
	}
	b.Run("package.json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := npmVersion(npm); !ok {
				b.Fatal("no version")
			}
		}
	})
	b.Run("npm --version", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := exec.Command(npm, "--version").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
