package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a place in a configuration file. Line and Col count from 1; Col counts bytes, so a
// tab is one column, as in the compiler messages editors already jump to. The zero Pos means
// "no position".
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats p as FILE:LINE:COL, leaving out FILE when it is empty.
func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// comparePos orders positions by file, line and column, so diagnostics read top to bottom.
func comparePos(a, b Pos) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
}

// Diagnostic is one message about the configuration: an error or a warning.
type Diagnostic struct {
	Pos Pos
	Msg string
}

// String formats d as "FILE:LINE:COL: msg".
func (d Diagnostic) String() string { return d.Pos.String() + ": " + d.Msg }

// Error makes a Diagnostic usable as an error; it is the same text as String.
func (d Diagnostic) Error() string { return d.String() }

// ErrorList is every error found in a configuration, in file order. Parse and Load return it
// as their error so that an operator sees all mistakes at once, not one per reload.
type ErrorList []Diagnostic

// Error lists the errors one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, d := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// sortDiagnostics orders ds by position; diagnostics on the same spot keep the order they
// were found in.
func sortDiagnostics(ds []Diagnostic) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int { return comparePos(a.Pos, b.Pos) })
}
