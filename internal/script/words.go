package script

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnterminated reports a quote or escape left open at the end of a
// command line.
var ErrUnterminated = errors.New("unterminated quote or escape")

// SplitWords splits a keepalived command line such as
// `/usr/bin/check "a b" 'c\td'` into words the way keepalived parses
// misc_path and script strings: words are separated by spaces and tabs;
// single and double quotes group; a backslash escapes the next character,
// inside quotes too, and understands C's \a \b \f \n \r \t \v, \E (ESC),
// \xHH, \cX (control-X) and up to three octal digits. There is no shell:
// $, *, | and > are plain characters. An empty line yields no words.
func SplitWords(line string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		quote byte
		in    bool // inside a word (a quoted empty string is a word)
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\':
			r, n, err := unescape(line[i+1:])
			if err != nil {
				return nil, fmt.Errorf("at byte %d: %w", i, err)
			}
			cur.WriteByte(r)
			i += n
			in = true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			in = true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("missing closing %c: %w", quote, ErrUnterminated)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// unescape decodes the escape whose backslash precedes s and returns the
// byte and how many bytes of s it used.
func unescape(s string) (byte, int, error) {
	if s == "" {
		return 0, 0, fmt.Errorf("backslash at end: %w", ErrUnterminated)
	}
	switch c := s[0]; {
	case c == 'x' && len(s) > 1 && isHex(s[1]):
		v, n := byte(0), 1
		for n < 3 && n < len(s) && isHex(s[n]) {
			v = v<<4 | hexVal(s[n])
			n++
		}
		return v, n, nil
	case c == 'c' && len(s) > 1:
		return s[1] & 0x1f, 2, nil
	case c >= '0' && c <= '7':
		v, n := byte(0), 0
		for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			v = v<<3 + (s[n] - '0')
			n++
		}
		return v, n, nil
	default:
		if r, ok := simpleEscapes[c]; ok {
			return r, 1, nil
		}
		return c, 1, nil
	}
}

var simpleEscapes = map[byte]byte{
	'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v',
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// JoinWords quotes words so that SplitWords returns them unchanged; it is
// for logs and for writing a command line back into a config file.
func JoinWords(words []string) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		if w != "" && !strings.ContainsAny(w, " \t'\"\\") {
			b.WriteString(w)
			continue
		}
		b.WriteByte('\'')
		for j := 0; j < len(w); j++ {
			if w[j] == '\'' || w[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(w[j])
		}
		b.WriteByte('\'')
	}
	return b.String()
}
