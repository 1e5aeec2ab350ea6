package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// manifest is the part of a package.json we read.
type manifest struct {
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	// Pulumi is the "pulumi" block that provider SDKs carry, e.g.
	// {"resource": true, "name": "kubernetes", "version": "4.25.0", "server": "..."}.
	Pulumi struct {
		Resource         bool   `json:"resource"`
		Name             string `json:"name"`
		Version          string `json:"version"`
		Server           string `json:"server"`
		Parameterization *struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Value   []byte `json:"value"` // base64 in JSON
		} `json:"parameterization"`
	} `json:"pulumi"`
}

func readManifest(path string) (*manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return &m, nil
}

// installedPackage is one package directory found under node_modules.
type installedPackage struct {
	dir string
	m   *manifest
}

// walkNodeModules lists every package installed under dir/node_modules, including nested
// node_modules and @scope directories, following symlinks (workspaces, `file:` dependencies) once.
func walkNodeModules(dir string) []installedPackage {
	var out []installedPackage
	seen := map[string]bool{}
	var visitModules func(nm string)
	visitPackage := func(pkgDir string) {
		real, err := filepath.EvalSymlinks(pkgDir)
		if err != nil || seen[real] {
			return
		}
		seen[real] = true
		if m, err := readManifest(filepath.Join(real, "package.json")); err == nil {
			out = append(out, installedPackage{dir: real, m: m})
		} else if !os.IsNotExist(err) {
			logging.V(3).Infof("skipping %s: %v", pkgDir, err)
		}
		visitModules(filepath.Join(real, "node_modules"))
	}
	visitModules = func(nm string) {
		entries, err := os.ReadDir(nm)
		if err != nil {
			return
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			p := filepath.Join(nm, name)
			if strings.HasPrefix(name, "@") {
				scoped, err := os.ReadDir(p)
				if err != nil {
					continue
				}
				for _, s := range scoped {
					visitPackage(filepath.Join(p, s.Name()))
				}
				continue
			}
			visitPackage(p)
		}
	}
	visitModules(filepath.Join(dir, "node_modules"))
	return out
}

// pluginOf returns the resource plugin a package declares through its "pulumi" block.
func pluginOf(m *manifest) (*pulumirpc.PackageDependency, error) {
	if !m.Pulumi.Resource {
		return nil, nil
	}
	name := m.Pulumi.Name
	if name == "" {
		if !strings.HasPrefix(m.Name, "@pulumi/") {
			return nil, fmt.Errorf("package %s declares a resource plugin without a \"pulumi.name\"", m.Name)
		}
		name = strings.TrimPrefix(m.Name, "@pulumi/")
	}
	ver := m.Pulumi.Version
	if ver == "" {
		ver = m.Version
	}
	if ver == "" {
		return nil, fmt.Errorf("package %s has no version", m.Name)
	}
	if !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	dep := &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: ver, Server: m.Pulumi.Server}
	if p := m.Pulumi.Parameterization; p != nil {
		dep.Parameterization = &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
	}
	return dep, nil
}

func requiredPackages(dir string) []*pulumirpc.PackageDependency {
	var deps []*pulumirpc.PackageDependency
	seen := map[string]bool{}
	for _, p := range walkNodeModules(dir) {
		dep, err := pluginOf(p.m)
		if err != nil {
			logging.V(3).Infof("%s: %v", p.dir, err)
			continue
		}
		if dep == nil {
			continue
		}
		key := dep.Name + "@" + dep.Version
		if dep.Parameterization != nil {
			key += "/" + dep.Parameterization.Name + "@" + dep.Parameterization.Version
		}
		if !seen[key] {
			seen[key] = true
			deps = append(deps, dep)
		}
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name+deps[i].Version < deps[j].Name+deps[j].Version })
	return deps
}

func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{Packages: requiredPackages(programDir(req.GetInfo(), "."))}, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages, kept for callers that still use it.
func (h *host) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := programDir(req.GetInfo(), req.GetPwd())
	var plugins []*pulumirpc.PluginDependency
	for _, p := range requiredPackages(dir) {
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: p.Name, Kind: p.Kind, Version: p.Version, Server: p.Server,
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := programDir(req.GetInfo(), req.GetPwd())
	var deps []*pulumirpc.DependencyInfo
	if req.GetTransitiveDependencies() {
		for _, p := range walkNodeModules(dir) {
			deps = append(deps, &pulumirpc.DependencyInfo{Name: p.m.Name, Version: p.m.Version})
		}
	} else {
		m, err := readManifest(filepath.Join(dir, "package.json"))
		if err != nil {
			return nil, fmt.Errorf("reading the program's package.json: %w", err)
		}
		names := map[string]bool{}
		for n := range m.Dependencies {
			names[n] = true
		}
		for n := range m.DevDependencies {
			names[n] = true
		}
		for n := range names {
			v := "(not installed)"
			if im, err := readManifest(filepath.Join(dir, "node_modules", n, "package.json")); err == nil {
				v = im.Version
			}
			deps = append(deps, &pulumirpc.DependencyInfo{Name: n, Version: v})
		}
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// packageManager picks the package manager: the "packagemanager" runtime option if set, else
// the one whose lock file is present, else npm.
func packageManager(dir, option string) string {
	if option != "" && option != "auto" {
		return option
	}
	for _, c := range []struct{ lock, pm string }{
		{"pnpm-lock.yaml", "pnpm"}, {"yarn.lock", "yarn"}, {"bun.lock", "bun"}, {"bun.lockb", "bun"},
	} {
		if _, err := os.Stat(filepath.Join(dir, c.lock)); err == nil {
			return c.pm
		}
	}
	return "npm"
}

// InstallDependencies runs `<package manager> install` in the program directory, streaming its
// output to the engine. It fails with the package manager's exit status if the install fails.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	stdout, stderr = serialized(stdout, stderr)

	dir := programDir(req.GetInfo(), req.GetDirectory())
	opts, err := parseOptions(req.GetInfo().GetOptions())
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return fmt.Errorf("no package.json in %s: %w", dir, err)
	}
	pm := packageManager(dir, opts.packagemanager)
	bin, err := exec.LookPath(pm)
	if err != nil {
		return fmt.Errorf("package manager %q not found on $PATH: %w", pm, err)
	}
	args := []string{"install"}
	if pm == "npm" {
		args = append(args, "--no-fund", "--no-audit")
	}
	fmt.Fprintf(stdout, "Installing dependencies in %s with `%s %s`...\n", dir, pm, strings.Join(args, " "))
	cmd := exec.CommandContext(server.Context(), bin, args...)
	cmd.Dir = dir
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("`%s %s` failed in %s: %w", pm, strings.Join(args, " "), dir, err)
	}
	fmt.Fprintln(stdout, "Finished installing dependencies")
	return closer.Close()
}
