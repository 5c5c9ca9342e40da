package lab

import (
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// Row compares one real's observed connections with its weight.
type Row struct {
	Name   string
	Weight int
	P      float64 // expected share, Weight / sum of weights
	Count  int
	Share  float64 // Count / N
	Z      float64 // (Count - N·P) / √(N·P·(1-P)); ±Inf when P is 0 or 1 and Count is off
}

// Z is the binomial z-score of count successes in n trials of probability
// p: how many standard deviations count lies from n·p. When every outcome
// is certain (p 0 or 1) any deviation is infinitely unlikely.
func Z(count, n int, p float64) float64 {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	d := float64(count) - mean
	if sd == 0 {
		if math.Abs(d) < 0.5 {
			return 0
		}
		return math.Copysign(math.Inf(1), d)
	}
	return d / sd
}

// Compare builds one row per weighted name, in the order of names, plus a
// row with weight 0 for any name that answered but has no weight, so a
// stray server shows up as an infinite z.
func Compare(weights map[string]int, names []string, counts map[string]int) []Row {
	n, sum := 0, 0
	for _, c := range counts {
		n += c
	}
	for _, name := range names {
		sum += weights[name]
	}
	var extra []string
	for name := range counts {
		if !slices.Contains(names, name) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	var rows []Row
	for _, name := range append(slices.Clip(names), extra...) {
		r := Row{Name: name, Weight: weights[name], Count: counts[name]}
		if sum > 0 && slices.Contains(names, name) {
			r.P = float64(r.Weight) / float64(sum)
		}
		if n > 0 {
			r.Share = float64(r.Count) / float64(n)
		}
		r.Z = Z(r.Count, n, r.P)
		rows = append(rows, r)
	}
	return rows
}

// MaxAbsZ returns the largest |z| among rows.
func MaxAbsZ(rows []Row) float64 {
	m := 0.0
	for _, r := range rows {
		m = max(m, math.Abs(r.Z))
	}
	return m
}

// WriteTable prints rows as an aligned table for people.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "real\tweight\texpected\tcount\tshare\tz\t")
	n := 0
	for _, r := range rows {
		n += r.Count
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%d\t%.1f%%\t%+.2f\t\n", r.Name, r.Weight, 100*r.P, r.Count, 100*r.Share, r.Z)
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t\t\t\n", n)
	return tw.Flush()
}
