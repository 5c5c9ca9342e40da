package testutil

import (
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
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
