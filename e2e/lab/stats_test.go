package lab

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestZ(t *testing.T) {
	tests := []struct {
		name  string
		count int
		n     int
		p     float64
		want  float64
	}{
		{name: "on the mean", count: 600, n: 1200, p: 0.5, want: 0},
		{name: "one sd above", count: 610, n: 100 * 12, p: 0.5, want: 10 / math.Sqrt(300)},
		{name: "below", count: 150, n: 1200, p: 1.0 / 6, want: -50 / math.Sqrt(1200*(1.0/6)*(5.0/6))},
		{name: "weight 0, none", count: 0, n: 1200, p: 0, want: 0},
		{name: "weight 0, some", count: 1, n: 1200, p: 0, want: math.Inf(1)},
		{name: "only real, all", count: 1200, n: 1200, p: 1, want: 0},
		{name: "only real, missing some", count: 1199, n: 1200, p: 1, want: math.Inf(-1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Z(tc.count, tc.n, tc.p), cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("Z(%d, %d, %v) -want +got:\n%s", tc.count, tc.n, tc.p, diff)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	weights := map[string]int{"r1": 3, "r2": 2, "r3": 0}
	counts := map[string]int{"r1": 60, "r2": 40, "stray": 0}
	got := Compare(weights, []string{"r1", "r2", "r3"}, counts)
	want := []Row{
		{Name: "r1", Weight: 3, P: 0.6, Count: 60, Share: 0.6, Z: 0},
		{Name: "r2", Weight: 2, P: 0.4, Count: 40, Share: 0.4, Z: 0},
		{Name: "r3", Weight: 0, P: 0, Count: 0, Share: 0, Z: 0},
		{Name: "stray", Weight: 0, P: 0, Count: 0, Share: 0, Z: 0},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Compare -want +got:\n%s", diff)
	}

	// A server nobody weighted that answers is an infinite deviation.
	got = Compare(weights, []string{"r1", "r2"}, map[string]int{"r1": 60, "r2": 39, "r3": 1})
	if z := MaxAbsZ(got); !math.IsInf(z, 1) {
		t.Errorf("MaxAbsZ with a stray answer = %v, want +Inf", z)
	}

	var b bytes.Buffer
	if err := WriteTable(&b, Compare(weights, []string{"r1", "r2"}, map[string]int{"r1": 60, "r2": 40})); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"60.0%", "+0.00", "total", "100"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
