package lab

import (
	"os"
	"testing"

	"xlb/internal/testutil"
)

// xlblab is the binary the lab runs in the reals and the client, built
// once for the package's tests.
var xlblab string

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithBinaries(m, map[string]*string{"xlb/e2e/cmd/xlblab": &xlblab}))
}
