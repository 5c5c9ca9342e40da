package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tk builds an expected token in file "f".
func tk(k tokenKind, text string, line, col int) token {
	return token{Kind: k, Text: text, Pos: Pos{File: "f", Line: line, Col: col}}
}

func nl(line, col int) token { return tk(tokNewline, "\n", line, col) }

func TestLex(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		want     []token
		wantErrs []Diagnostic
	}{
		{
			name: "empty",
			src:  "",
		},
		{
			name: "blank lines and comments only",
			src:  "\n  # comment\n! other comment\n\t\n",
		},
		{
			name: "words and positions count bytes",
			src:  "lb_algo  rr\n\tdelay_loop 6",
			want: []token{
				tk(tokWord, "lb_algo", 1, 1), tk(tokWord, "rr", 1, 10), nl(1, 12),
				tk(tokWord, "delay_loop", 2, 2), tk(tokWord, "6", 2, 13), nl(2, 14),
			},
		},
		{
			name: "comments end words anywhere outside quotes",
			src:  "lb_algo rr#x\nlb_kind NAT!y\n# z\n",
			want: []token{
				tk(tokWord, "lb_algo", 1, 1), tk(tokWord, "rr", 1, 9), nl(1, 13),
				tk(tokWord, "lb_kind", 2, 1), tk(tokWord, "NAT", 2, 9), nl(2, 14),
			},
		},
		{
			name: "escaped comment characters",
			src:  `notify a\#b\!c \\#gone`,
			want: []token{
				tk(tokWord, "notify", 1, 1), tk(tokWord, "a#b!c", 1, 8), tk(tokWord, `\\`, 1, 16), nl(1, 23),
			},
		},
		{
			name: "quoted strings keep spaces, comment marks and braces",
			src:  `script "/bin/check -x # { }" ""`,
			want: []token{
				tk(tokWord, "script", 1, 1), tk(tokString, "/bin/check -x # { }", 1, 8),
				tk(tokString, "", 1, 30), nl(1, 32),
			},
		},
		{
			name: "a quote starts a new word",
			src:  `a"b c"d`,
			want: []token{
				tk(tokWord, "a", 1, 1), tk(tokString, "b c", 1, 2), tk(tokWord, "d", 1, 7), nl(1, 8),
			},
		},
		{
			name: "single quotes are ordinary",
			src:  `'a b'`,
			want: []token{tk(tokWord, "'a", 1, 1), tk(tokWord, "b'", 1, 4), nl(1, 6)},
		},
		{
			name: "braces glued to words",
			src:  "real_server 1.2.3.4 80{\n}x{y}",
			want: []token{
				tk(tokWord, "real_server", 1, 1), tk(tokWord, "1.2.3.4", 1, 13), tk(tokWord, "80", 1, 21),
				tk(tokOpen, "{", 1, 23), nl(1, 24),
				tk(tokClose, "}", 2, 1), tk(tokWord, "x", 2, 2), tk(tokOpen, "{", 2, 3),
				tk(tokWord, "y", 2, 4), tk(tokClose, "}", 2, 5), nl(2, 6),
			},
		},
		{
			name: "block on one line",
			src:  "virtual_ipaddress { 198.18.0.1 198.18.0.2 }",
			want: []token{
				tk(tokWord, "virtual_ipaddress", 1, 1), tk(tokOpen, "{", 1, 19),
				tk(tokWord, "198.18.0.1", 1, 21), tk(tokWord, "198.18.0.2", 1, 32),
				tk(tokClose, "}", 1, 43), nl(1, 44),
			},
		},
		{
			name: "CRLF line ends",
			src:  "a b\r\nc\r\n",
			want: []token{tk(tokWord, "a", 1, 1), tk(tokWord, "b", 1, 3), nl(1, 5), tk(tokWord, "c", 2, 1), nl(2, 3)},
		},
		{
			name: "unterminated string takes the rest of the line",
			src:  "script \"/bin/x -y\nnext",
			want: []token{
				tk(tokWord, "script", 1, 1), tk(tokString, "/bin/x -y", 1, 8), nl(1, 18),
				tk(tokWord, "next", 2, 1), nl(2, 5),
			},
			wantErrs: []Diagnostic{{Pos: Pos{File: "f", Line: 1, Col: 8}, Msg: `quoted string has no closing '"' on its line`}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := lex("f", []byte(tc.src))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lex(%q) tokens (-want +got):\n%s", tc.src, diff)
			}
			if diff := cmp.Diff(tc.wantErrs, errs); diff != "" {
				t.Errorf("lex(%q) errors (-want +got):\n%s", tc.src, diff)
			}
		})
	}
}

func TestPosString(t *testing.T) {
	tests := []struct {
		pos  Pos
		want string
	}{
		{Pos{File: "a.conf", Line: 3, Col: 7}, "a.conf:3:7"},
		{Pos{Line: 3, Col: 7}, "3:7"},
	}
	for _, tc := range tests {
		if got := tc.pos.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.pos, got, tc.want)
		}
	}
	l := ErrorList{{Pos: Pos{File: "f", Line: 1, Col: 2}, Msg: "a"}, {Pos: Pos{File: "f", Line: 3, Col: 4}, Msg: "b"}}
	if got, want := l.Error(), "f:1:2: a\nf:3:4: b"; got != want {
		t.Errorf("ErrorList.Error() = %q, want %q", got, want)
	}
}
