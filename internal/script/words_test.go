package script

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []string
		err  error
	}{
		{"empty", "", nil, nil},
		{"blanks", " \t ", nil, nil},
		{"plain", "/bin/check  -p 80\t-v", []string{"/bin/check", "-p", "80", "-v"}, nil},
		{"double quotes group", `/bin/sh -c "exit 3"`, []string{"/bin/sh", "-c", "exit 3"}, nil},
		{"single quotes group", `a 'b c' d`, []string{"a", "b c", "d"}, nil},
		{"quotes join a word", `a"b c"'d'`, []string{"ab cd"}, nil},
		{"empty quoted word", `a "" b`, []string{"a", "", "b"}, nil},
		{"other quote inside", `"it's" '"x"'`, []string{"it's", `"x"`}, nil},
		{"escaped space", `a\ b`, []string{"a b"}, nil},
		{"escape in quotes", `"a\"b" 'c\'d'`, []string{`a"b`, "c'd"}, nil},
		{"c escapes", `\t\n\r\a\b\f\v\E`, []string{"\t\n\r\a\b\f\v\x1b"}, nil},
		{"hex", `\x41\x4a2 \xg`, []string{"AJ2", "xg"}, nil},
		{"octal", `\101\0\7777`, []string{"A\x00\xff7"}, nil},
		{"control", `\cA\c[`, []string{"\x01\x1b"}, nil},
		{"no shell", `echo $HOME | cat > /x`, []string{"echo", "$HOME", "|", "cat", ">", "/x"}, nil},
		{"open double quote", `a "b`, nil, ErrUnterminated},
		{"open single quote", `a 'b`, nil, ErrUnterminated},
		{"trailing backslash", `a\`, nil, ErrUnterminated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitWords(tc.line)
			if !errors.Is(err, tc.err) {
				t.Fatalf("SplitWords(%q) error = %v, want %v", tc.line, err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SplitWords(%q) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestJoinWordsRoundTrip(t *testing.T) {
	words := []string{"/bin/sh", "-c", "exit 3", "", `a'b\c"d`, "\t"}
	got, err := SplitWords(JoinWords(words))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(words, got); diff != "" {
		t.Errorf("SplitWords(JoinWords(w)) (-want +got):\n%s", diff)
	}
}

// FuzzSplitWords checks that any line splits without panicking, and that
// the words it yields survive JoinWords and a second split.
func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{"", `/bin/check -p 80`, `"a b" 'c'`, `\x41\101\cA\t`, `a\`, `"open`, `''`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := SplitWords(line)
		if err != nil {
			return
		}
		again, err := SplitWords(JoinWords(words))
		if err != nil {
			t.Fatalf("split of JoinWords(%q): %v", words, err)
		}
		if len(words) == 0 {
			words = nil
		}
		if diff := cmp.Diff(words, again); diff != "" {
			t.Errorf("round trip of %q (-want +got):\n%s", line, diff)
		}
	})
}
