package config

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// samplesDir is where Debian's keepalived package installs keepalived's example
// configurations; `make deps` installs the package.
const samplesDir = "/usr/share/doc/keepalived/samples"

// TestKeepalivedSamples parses every keepalived.conf.* that keepalived ships, in place (the
// files are keepalived's, not xlb's, so they are not copied here): each must be accepted,
// old syntax with a warning saying how to write it today. keepalived 2.2.7 itself refuses
// 11 of them.
func TestKeepalivedSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(samplesDir, "keepalived.conf.*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no keepalived.conf.* in %s: run `make deps` (it installs Debian's keepalived package)", samplesDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f, ".gz") {
				zr, err := gzip.NewReader(bytes.NewReader(src))
				if err != nil {
					t.Fatal(err)
				}
				if src, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			_, warns, err := ParseWithOptions(f, src, Options{ConfigID: "high"})
			if err != nil {
				t.Errorf("%s:\n%v", f, err)
			}
			for _, w := range warns {
				t.Logf("warning: %s", w)
			}
		})
	}
}
