package check

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"

	"xlb/internal/script"
)

// FuzzParseStatusSet checks that any status_code value parses or fails
// without panicking, and that a parsed set survives String and a second
// parse, holding only codes in 100..599.
func FuzzParseStatusSet(f *testing.F) {
	for _, s := range []string{"200", "200-299", "200-299 301 400-499 503 505", "599-100", "99", "600", "1-", "-", "200\t204", "0200"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseStatusSet(s)
		if err != nil {
			return
		}
		if set.IsZero() {
			t.Fatalf("ParseStatusSet(%q) gave an empty set without error", s)
		}
		again, err := ParseStatusSet(set.String())
		if err != nil {
			t.Fatalf("parse of String() %q: %v", set.String(), err)
		}
		if again != set {
			t.Errorf("round trip of %q: %q != %q", s, again, set)
		}
		for _, c := range []int{0, 99, 600, -1} {
			if set.Contains(c) {
				t.Errorf("set from %q contains %d", s, c)
			}
		}
	})
}

// FuzzReadSMTPReply checks that any server bytes give a reply or an
// error without panicking, and that a reply's code has SMTP's shape.
func FuzzReadSMTPReply(f *testing.F) {
	for _, s := range []string{"220 ready\r\n", "250-a\r\n250 b\r\n", "554\r\n", "220-x\r\n", "2x0\r\n", "", "\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		code, text, err := ReadSMTPReply(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if code < 100 || code > 559 || code%100 > 59 {
			t.Errorf("code %d from %q", code, b)
		}
		// The reply's text comes from the input, line by line.
		for _, line := range strings.Split(text, "\n") {
			if !bytes.Contains(b, []byte(line)) {
				t.Errorf("text line %q not in input %q", line, b)
			}
		}
	})
}

// FuzzParseHexPattern checks that any hex string parses or fails without
// panicking, and that a pattern survives String and a second parse.
func FuzzParseHexPattern(f *testing.F) {
	for _, s := range []string{"Ab12f 3 456 546443123", "XX", "x1 2X", "\t0", "zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseHexPattern(s)
		if err != nil {
			return
		}
		if len(p.Data) != len(p.Mask) || len(p.Data) == 0 {
			t.Fatalf("ParseHexPattern(%q) = %+v", s, p)
		}
		again, err := ParseHexPattern(p.String())
		if err != nil {
			t.Fatalf("parse of String() %q: %v", p.String(), err)
		}
		if !bytes.Equal(again.Data, p.Data) || !bytes.Equal(again.Mask, p.Mask) {
			t.Errorf("round trip of %q: %+v != %+v", s, again, p)
		}
		if !p.Match(p.Data) {
			t.Errorf("pattern from %q does not match its own data", s)
		}
	})
}

// FuzzParseTrackValue checks that any file contents give a value in
// range or an error, and that plain decimal numbers read as strconv
// reads them.
func FuzzParseTrackValue(f *testing.F) {
	for _, s := range []string{"0", "-7\n", "0x1F", "017", "2147483648", "garbage", " +3 x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseTrackValue(b)
		if err != nil {
			return
		}
		if v < -1<<31 || v > 1<<31 {
			t.Fatalf("ParseTrackValue(%q) = %d, out of range", b, v)
		}
		s := string(b)
		if s != "" && strings.Trim(s, "123456789") == "" {
			if want, _ := strconv.ParseInt(s, 10, 64); want != v {
				t.Errorf("ParseTrackValue(%q) = %d, want %d", b, v, want)
			}
		}
		// A value written back reads the same.
		if again, err := ParseTrackValue([]byte(strconv.FormatInt(v, 10))); err != nil || again != v {
			t.Errorf("re-read of %d = %d, %v", v, again, err)
		}
	})
}

// FuzzMiscResult checks misc_dynamic's mapping for any exit status.
func FuzzMiscResult(f *testing.F) {
	for _, c := range []int{0, 1, 2, 5, 255, -1, 256} {
		f.Add(c, true)
		f.Add(c, false)
	}
	f.Fuzz(func(t *testing.T, code int, dynamic bool) {
		r := MiscResult(script.Result{ExitCode: code}, dynamic)
		wantUp := code == 0 || dynamic && code >= 2 && code <= 255
		if r.Up != wantUp {
			t.Errorf("exit %d dynamic %v: Up = %v, want %v", code, dynamic, r.Up, wantUp)
		}
		if r.HasWeight != (wantUp && code != 0) || r.HasWeight && r.Weight != code-2 {
			t.Errorf("exit %d dynamic %v: weight %d (has %v)", code, dynamic, r.Weight, r.HasWeight)
		}
		if r.HasWeight && (r.Weight < 0 || r.Weight > 253) {
			t.Errorf("exit %d: weight %d outside 0..253", code, r.Weight)
		}
	})
}
