package check

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content *string // nil: no file
		weight  int32
		reverse bool
		want    Result
	}{
		{"weight 0, value 0", ptr("0\n"), 0, false, Result{Up: true, Reason: "file value 0"}},
		{"weight 0, value 3", ptr("3\n"), 0, false, Result{Reason: "file value 3"}},
		{"weight 0 reverse, value 0", ptr("0"), 0, true, Result{Reason: "file value 0"}},
		{"weight 0 reverse, value 3", ptr("3"), 0, true, Result{Up: true, Reason: "file value 3"}},
		{"missing file is 0", nil, 0, false, Result{Up: true, Reason: "file value 0"}},
		{"empty file is 0", ptr(""), 0, false, Result{Up: true, Reason: "file value 0"}},
		{"weight 2, value 5", ptr("5"), 2, false, Result{Up: true, Reason: "file value 5, weight offset 10", Weight: 10, HasWeight: true, WeightOffset: true}},
		{"weight 2 reverse, value 5", ptr("5"), 2, true, Result{Up: true, Reason: "file value 5, weight offset -10", Weight: -10, HasWeight: true, WeightOffset: true}},
		{"hex value", ptr("0x10 trailing"), 1, false, Result{Up: true, Reason: "file value 16, weight offset 16", Weight: 16, HasWeight: true, WeightOffset: true}},
		{"product reaches fault", ptr("-1073741824"), 2, false, Result{Reason: "file value -1073741824 × weight 2 is fault"}},
		{"product clamps high", ptr("2147483648"), 2, false, Result{Up: true, Reason: "file value 2147483648, weight offset 2147483647", Weight: math.MaxInt32, HasWeight: true, WeightOffset: true}},
		{"value out of range", ptr("4294967296"), 1, false, Result{Reason: "track file value out of range"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "f"+string(rune('a'+i)))
			if tc.content != nil {
				if err := os.WriteFile(path, []byte(*tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := NewFile(FileOptions{Path: path, Weight: tc.weight, Reverse: tc.reverse})
			if err != nil {
				t.Fatal(err)
			}
			got := c.Check(t.Context())
			if tc.name == "value out of range" {
				wantResult(t, got, false, tc.want.Reason)
				return
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Result{}, "Latency")); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestParseTrackValue(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  error
	}{
		{"", 0, nil},
		{"junk", 0, nil},
		{"42", 42, nil},
		{"  \t\n-7\n", -7, nil},
		{"+9", 9, nil},
		{"0x1f", 31, nil},
		{"0X1F", 31, nil},
		{"0x", 0, nil},   // strtol reads the 0 and stops at x
		{"017", 15, nil}, // octal
		{"08", 0, nil},   // octal 0, then a stray 8
		{"12abc", 12, nil},
		{"2147483648", 2147483648, nil},
		{"-2147483648", -2147483648, nil},
		{"2147483649", 0, ErrTrackValue},
		{"-2147483649", 0, ErrTrackValue},
		{"99999999999999999999999", 0, ErrTrackValue},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTrackValue([]byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseTrackValue(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if got != tc.want {
				t.Errorf("ParseTrackValue(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}
