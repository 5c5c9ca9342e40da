package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden .json dumps in testdata/config")

// TestDumpGolden dumps every configuration in testdata/config and compares it with the
// .json next to it; -update rewrites them for review. The dumps document the whole model
// and the stable schema of `xlbd -t --dump`.
func TestDumpGolden(t *testing.T) {
	files, err := filepath.Glob("../testdata/config/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no configurations in ../testdata/config: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, _, err := LoadWithOptions(f, Options{ConfigID: "lb1"})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got, err := Dump(cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(f, ".conf") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("dump of %s (-want +got):\n%s", f, diff)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{60 * time.Second, "60"},
		{250 * time.Millisecond, "0.25"},
		{time.Second + time.Microsecond, "1.000001"},
	}
	for _, tc := range tests {
		if got := seconds(tc.d); got != tc.want {
			t.Errorf("seconds(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestErrorsGolden parses testdata/config/invalid/errors.conf, which holds one of each kind
// of error, and compares every message and position with errors.txt next to it; -update
// rewrites it for review.
func TestErrorsGolden(t *testing.T) {
	const dir = "../testdata/config/invalid/"
	_, _, err := LoadWithOptions(dir+"errors.conf", Options{ConfigID: "lb1"})
	l, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("Load error %T %v, want ErrorList", err, err)
	}
	got := strings.ReplaceAll(l.Error(), dir, "") + "\n"
	if *update {
		if err := os.WriteFile(dir+"errors.txt", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(dir + "errors.txt")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
