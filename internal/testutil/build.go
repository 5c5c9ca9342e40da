package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"
)

// GoBuild builds the Go package pkg (an import path such as xlb/cmd/xlbd)
// into dir and returns the binary's path. Tests that run xlb's programs as
// separate processes — as they must to place them in a network namespace
// with nsenter — build them once in TestMain.
func GoBuild(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, path.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// MainWithBinaries is a TestMain body for packages that run xlb's programs:
// it builds each package of bins (import path → the variable that gets the
// binary's path) into a temporary directory, runs the tests, removes the
// directory and returns the exit code for os.Exit, 1 if a build failed.
func MainWithBinaries(m *testing.M, bins map[string]*string) int {
	dir, err := os.MkdirTemp("", "xlb-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for pkg, dst := range bins {
		if *dst, err = GoBuild(dir, pkg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}
