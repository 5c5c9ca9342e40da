package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dumpTree renders a tree compactly: "kw args {children}" with positions of keywords.
func dumpTree(nodes []*node) string {
	parts := make([]string, 0, len(nodes))
	for _, n := range nodes {
		s := fmt.Sprintf("%s@%d:%d", n.String(), n.Key.Pos.Line, n.Key.Pos.Col)
		if n.Block != nil {
			s += " {" + dumpTree(n.Block.Nodes) + "}"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func TestParseTree(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		want     string
		wantErrs []string
	}{
		{
			name: "nested blocks",
			src:  "a 1 {\n  b 2\n  c {\n    d\n  }\n}\ne\n",
			want: "a 1@1:1 {b 2@2:3; c@3:3 {d@4:5}}; e@7:1",
		},
		{
			name: "open brace on the next line",
			src:  "a\n\n{\n b\n}",
			want: "a@1:1 {b@4:2}",
		},
		{
			name: "one line blocks and statements after a closing brace",
			src:  "a { b c } d { } e",
			want: "a@1:1 {b c@1:5}; d@1:11 {}; e@1:17",
		},
		{
			name: "a quoted brace is a word",
			src:  `a "{" "}"`,
			want: "a { }@1:1",
		},
		{
			name:     "extra closing brace",
			src:      "a {\n}\n}\nb",
			want:     "a@1:1 {}; b@4:1",
			wantErrs: []string{"f:3:1: unexpected '}': no block is open"},
		},
		{
			name:     "unclosed brace reported where it opens",
			src:      "a {\n b {\n  c\n}\n",
			want:     "a@1:1 {b@2:2 {c@3:3}}",
			wantErrs: []string{"f:1:3: '{' has no matching '}'"},
		},
		{
			name:     "stray block",
			src:      "a { }\n{ b }\nc",
			want:     "a@1:1 {}; c@3:1",
			wantErrs: []string{"f:2:1: unexpected '{': no keyword before it"},
		},
		{
			name:     "second block for one keyword",
			src:      "a { } { }",
			want:     "a@1:1 {}",
			wantErrs: []string{"f:1:7: unexpected '{': no keyword before it"},
		},
		{
			name:     "brace first in the file",
			src:      "{",
			want:     "",
			wantErrs: []string{"f:1:1: '{' has no matching '}'", "f:1:1: unexpected '{': no keyword before it"},
		},
		{
			// Block maxDepth+1 is skipped: the innermost b keeps an empty block.
			name:     "nesting is bounded",
			src:      "a " + strings.Repeat("{ b ", maxDepth+1) + strings.Repeat("}", maxDepth+1) + " c",
			want:     nestedWant(),
			wantErrs: []string{fmt.Sprintf("f:1:%d: blocks nested deeper than %d levels", 3+4*maxDepth, maxDepth)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toks, lexErrs := lex("f", []byte(tc.src))
			if len(lexErrs) > 0 {
				t.Fatalf("lex: %v", lexErrs)
			}
			nodes, errs := parseTree(toks)
			if diff := cmp.Diff(tc.want, dumpTree(nodes)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.String())
			}
			if diff := cmp.Diff(tc.wantErrs, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// nestedWant is the tree of "a { b { b ... } } c" cut at maxDepth levels.
func nestedWant() string {
	var b strings.Builder
	b.WriteString("a@1:1 {")
	for k := range maxDepth {
		fmt.Fprintf(&b, "b@1:%d {", 5+4*k)
	}
	b.WriteString(strings.Repeat("}", maxDepth+1))
	fmt.Fprintf(&b, "; c@1:%d", 3+4*(maxDepth+1)+maxDepth+2)
	return b.String()
}
