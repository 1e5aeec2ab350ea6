package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
)

// resolveInProject answers what `require.resolve(module)` answers in a script run by node in dir
// (honours hoisting, workspaces and symlinked packages), for a bare specifier such as
// "@pulumi/pulumi/cmd/run". Starting node for that costs 50-150 ms before every program, plugin
// and policy pack, so the usual layout is resolved here, in Go, with node's own algorithm
// (resolveInNodeModules); anything it is not sure about (an "exports" map, a "main" inside the
// entry's directory, NODE_PATH or global folders, --preserve-symlinks) is left to node itself,
// which also gives the error when the module cannot be found.
func resolveInProject(ctx context.Context, node, dir, module string) (string, error) {
	if p, ok := resolveInNodeModules(dir, module); ok {
		return p, nil
	}
	logging.V(7).Infof("resolving %s from %s with node", module, dir)
	return resolveWithNode(ctx, node, dir, module)
}

// resolveWithNode asks node where `module` resolves from dir.
func resolveWithNode(ctx context.Context, node, dir, module string) (string, error) {
	script := fmt.Sprintf("process.stdout.write(require.resolve(%q))", module)
	cmd := exec.CommandContext(ctx, node, "-e", script)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot find %s from %s (are the project's dependencies installed? "+
			"run `npm install` or `pulumi install`): %v: %s", module, dir, err, lastLine(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// resolveInNodeModules is CommonJS require.resolve of a bare "<package>/<subpath>" specifier from
// a script in dir (Node 20, lib/internal/modules/cjs/loader.js), for the cases it can answer
// exactly; ok=false means "ask node". Node looks in <d>/node_modules for every ancestor d of its
// working directory (a real path: getcwd) except directories named node_modules, nearest first.
// In each, a package directory with a package.json that has "exports" settles the lookup by that
// map: its exact, unconditional string entry for "./<subpath>" is honoured here, anything else is
// node's. Without "exports" node tries <pkg>/<subpath> as a file, with .js/.json/.node added,
// then as a directory (its package.json "main", else index.js ...), and goes on to the next
// node_modules when none exists. The answer is the real path of the file found.
func resolveInNodeModules(dir, module string) (string, bool) {
	name, sub, ok := splitSpecifier(module)
	if !ok || preserveSymlinks() {
		return "", false
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	d, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", false // node could not start there either; let it say so
	}
	for {
		if filepath.Base(d) != "node_modules" {
			p, found, ok := resolveInPackage(filepath.Join(d, "node_modules", name), sub)
			if !ok {
				return "", false
			}
			if found {
				return p, true
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			// Not in any node_modules: NODE_PATH, $HOME/.node_modules, <prefix>/lib/node or the error
			// ("Cannot find module ...") are node's.
			return "", false
		}
		d = parent
	}
}

// resolveInPackage looks for sub in the package directory pkg: found=false when node would go on
// to the next node_modules, ok=false when only node can tell.
func resolveInPackage(pkg, sub string) (p string, found, ok bool) {
	b, err := os.ReadFile(filepath.Join(pkg, "package.json"))
	switch {
	case err == nil:
		var m struct {
			Exports json.RawMessage `json:"exports"`
		}
		if json.Unmarshal(b, &m) != nil {
			return "", false, false // node reports the broken package.json
		}
		if len(m.Exports) > 0 && string(m.Exports) != "null" {
			p, ok := exportsEntry(pkg, m.Exports, "./"+sub)
			return p, ok, ok
		}
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
	default:
		return "", false, false
	}

	base := filepath.Join(pkg, filepath.FromSlash(sub))
	// A file named exactly like the request, then with each extension node knows by default.
	for _, ext := range []string{"", ".js", ".json", ".node"} {
		if fi, err := os.Stat(base + ext); err == nil {
			if fi.Mode().IsRegular() {
				p, ok := realFile(base + ext)
				return p, ok, ok
			}
			if !fi.IsDir() {
				return "", false, false // a FIFO, device ...: node's business
			}
		}
	}
	// A directory: its own package.json ("main") is left to node; else index.js.
	if fi, err := os.Stat(base); err == nil && fi.IsDir() {
		if _, err := os.Stat(filepath.Join(base, "package.json")); !errors.Is(err, os.ErrNotExist) {
			return "", false, false
		}
		if fi, err := os.Stat(filepath.Join(base, "index.js")); err == nil && fi.Mode().IsRegular() {
			p, ok := realFile(filepath.Join(base, "index.js"))
			return p, ok, ok
		}
		return "", false, false // index.json, index.node, or node's error
	}
	return "", false, true
}

// exportsEntry returns the target of key in a package's "exports" when it is an exact entry
// whose value is a plain relative path (what node does then: the real path of <pkg>/<target>,
// which must exist). Conditions, patterns, arrays and the "." sugar are node's (ok=false).
func exportsEntry(pkg string, exports json.RawMessage, key string) (string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(exports, &m) != nil {
		return "", false
	}
	for k := range m {
		if !strings.HasPrefix(k, ".") {
			return "", false // a conditions object for "." only
		}
	}
	raw, present := m[key]
	if !present || strings.Contains(key, "*") {
		return "", false
	}
	var target string
	if json.Unmarshal(raw, &target) != nil || !strings.HasPrefix(target, "./") || strings.Contains(target, "*") {
		return "", false
	}
	for _, seg := range strings.Split(target[2:], "/") {
		if seg == "" || seg == "." || seg == ".." || strings.EqualFold(seg, "node_modules") || strings.Contains(seg, "%") {
			return "", false // invalid or encoded targets: node's error
		}
	}
	return realFile(filepath.Join(pkg, filepath.FromSlash(target[2:])))
}

// realFile is the real path of an existing regular file (node's toRealPath).
func realFile(p string) (string, bool) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	if fi, err := os.Stat(real); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return real, true
}

// splitSpecifier splits "@scope/name/sub/path" or "name/sub/path" into the package name and the
// subpath; only bare specifiers with a plain subpath qualify.
func splitSpecifier(module string) (name, sub string, ok bool) {
	if module == "" || strings.HasPrefix(module, ".") || strings.HasPrefix(module, "/") ||
		strings.HasPrefix(module, "node:") || strings.ContainsAny(module, "\\%") {
		return "", "", false
	}
	parts := strings.Split(module, "/")
	n := 1
	if strings.HasPrefix(module, "@") {
		n = 2
	}
	if len(parts) <= n {
		return "", "", false
	}
	for _, seg := range parts {
		if seg == "" || seg == "." || seg == ".." {
			return "", "", false
		}
	}
	return strings.Join(parts[:n], "/"), strings.Join(parts[n:], "/"), true
}

// preserveSymlinks: node then answers symlinked paths instead of real ones; leave it to node.
func preserveSymlinks() bool {
	return os.Getenv("NODE_PRESERVE_SYMLINKS") == "1" ||
		strings.Contains(os.Getenv("NODE_OPTIONS"), "--preserve-symlinks")
}

// npmVersion reads the version of the npm that `npm` on $PATH runs from npm's own package.json
// instead of starting it (`npm --version` starts node and loads npm: ~150 ms). The usual install
// is a symlink bin/npm -> ../lib/node_modules/npm/bin/npm-cli.js; the package.json named "npm"
// nearest above the resolved file is the one whose version `npm --version` prints. ok=false when
// there is none (a wrapper script, corepack, ...).
func npmVersion(bin string) (string, bool) {
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return "", false
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		m, err := readManifest(filepath.Join(d, "package.json"))
		if err == nil && m.Name == "npm" && m.Version != "" {
			return m.Version, true
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", false // the script belongs to another package, or a broken one
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}
