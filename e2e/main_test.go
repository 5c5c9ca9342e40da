package e2e

import (
	"os"
	"testing"

	"xlb/internal/testutil"
)

// Binaries under test, built once for the whole package.
var bin struct {
	xlbd, xlbctl, xlblab string
}

// demoConfig is the configuration `make demo` uses too.
const demoConfig = "../testdata/demo/keepalived.conf"

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithBinaries(m, map[string]*string{
		"xlb/cmd/xlbd":       &bin.xlbd,
		"xlb/cmd/xlbctl":     &bin.xlbctl,
		"xlb/e2e/cmd/xlblab": &bin.xlblab,
	}))
}
