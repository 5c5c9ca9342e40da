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
	// From is the include line that read File, nil in the main file. Diagnostic.String
	// names the whole chain, so that an operator can tell which include brought a shared
	// file in.
	From *Pos
}

// String formats p as FILE:LINE:COL, leaving out FILE when it is empty.
func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Includes names the include lines that led to p, innermost first:
// " (included from b.conf:1:1, from keepalived.conf:3:1)"; empty in the main file.
func (p Pos) Includes() string {
	if p.From == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(" (included from ")
	for f, sep := p.From, ""; f != nil; f, sep = f.From, ", from " {
		b.WriteString(sep + f.String())
	}
	b.WriteString(")")
	return b.String()
}

// chain lists the positions from the main file down to p: the include lines, then p.
func (p Pos) chain() []Pos {
	n := 1
	for f := p.From; f != nil; f = f.From {
		n++
	}
	c := make([]Pos, n)
	c[n-1] = p
	for i, f := n-2, p.From; f != nil; i, f = i-1, f.From {
		c[i] = *f
	}
	return c
}

// comparePos orders positions in reading order: by the include lines that led to them,
// then by file, line and column, so diagnostics read top to bottom.
func comparePos(a, b Pos) int {
	if a.From == nil && b.From == nil {
		return compareOne(a, b)
	}
	ca, cb := a.chain(), b.chain()
	for i := 0; i < len(ca) && i < len(cb); i++ {
		if c := compareOne(ca[i], cb[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ca), len(cb))
}

func compareOne(a, b Pos) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
}

// Diagnostic is one message about the configuration: an error or a warning.
type Diagnostic struct {
	Pos Pos
	Msg string
}

// String formats d as "FILE:LINE:COL: msg", followed in an included file by the include
// lines that read it: "b.conf:4:2: msg (included from keepalived.conf:3:1)".
func (d Diagnostic) String() string { return d.Pos.String() + ": " + d.Msg + d.Pos.Includes() }

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
