package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binaries under test, built once for the whole package.
var bin struct {
	xlbd, xlbctl, xlblab string
}

// demoConfig is the configuration `make demo` uses too.
const demoConfig = "../testdata/demo/keepalived.conf"

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "xlb-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for _, b := range []struct {
		dst *string
		pkg string
	}{
		{&bin.xlbd, "xlb/cmd/xlbd"},
		{&bin.xlbctl, "xlb/cmd/xlbctl"},
		{&bin.xlblab, "xlb/e2e/cmd/xlblab"},
	} {
		*b.dst = filepath.Join(dir, filepath.Base(b.pkg))
		if out, err := exec.Command("go", "build", "-o", *b.dst, b.pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
			return 1
		}
	}
	return m.Run()
}
