package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// xlblab is the binary the lab runs in the reals and the client, built
// once for the package's tests.
var xlblab string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "xlblab-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	xlblab = filepath.Join(dir, "xlblab")
	if out, err := exec.Command("go", "build", "-o", xlblab, "xlb/e2e/cmd/xlblab").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build xlblab: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
