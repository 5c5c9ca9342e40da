package config

import (
	"math"
	"net/netip"
	"strings"
	"time"
)

// This file holds the field functions most keywords share: a keyword with one value of a
// type, checked and stored through a getter. A schema row then reads
// "priority": uintField(func(i *instDraft) *int { return &i.inst.Priority }, 1, 255).
// Messages name the block being decoded (decoder.where), the keyword and the value.

// flagField sets a keyword that takes no value. keepalived also accepts an explicit
// true/false (on/off, yes/no) after some of them; so does xlb, for all.
func flagField[T any](get func(*T) *bool) field[T] {
	return func(d *decoder, n *node, into *T) {
		if !noBlock(d, n) {
			return
		}
		v := true
		switch {
		case len(n.Args) == 1:
			b, ok := parseBool(n.Args[0].Text)
			if !ok {
				d.errorf(n.Args[0].Pos, "%s: %s %q: want no value, or true or false", d.where, n.Key.Text, n.Args[0].Text)
				return
			}
			v = b
		case len(n.Args) > 1:
			d.errorf(n.Args[1].Pos, "%s: %s: unexpected argument %q", d.where, n.Key.Text, n.Args[1].Text)
			return
		}
		*get(into) = v
	}
}

// parseBool reads keepalived's check_true_false words.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	return false, false
}

// noBlock reports a block after a keyword that takes none.
func noBlock(d *decoder, n *node) bool {
	if n.Block != nil {
		d.errorf(n.Block.Open, "%s: %s takes no block", d.where, n.Key.Text)
		return false
	}
	return true
}

// stringField stores the single word of a keyword.
func stringField[T any](get func(*T) *string) field[T] {
	return func(d *decoder, n *node, into *T) {
		if t, ok := value(d, d.where, n); ok {
			*get(into) = t.Text
		}
	}
}

// commandField stores a command line: every word after the keyword, joined by blanks
// (notify scripts, misc_path, quorum_up). Quoted or not, as keepalived takes both.
func commandField[T any](get func(*T) *string) field[T] {
	return func(d *decoder, n *node, into *T) {
		if !noBlock(d, n) {
			return
		}
		if len(n.Args) == 0 {
			d.errorf(n.Key.Pos, "%s: %s: missing command", d.where, n.Key.Text)
			return
		}
		*get(into) = words(n.Args)
	}
}

func words(toks []token) string {
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = t.Text
	}
	return strings.Join(parts, " ")
}

// intField stores an integer in lo..hi; negative bounds allow a sign.
func intField[T any](get func(*T) *int, lo, hi int) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		if v, ok := parseIntRange(t.Text, lo, hi); ok {
			*get(into) = v
			return
		}
		d.errorf(t.Pos, "%s: %s %q: want %d..%d", d.where, n.Key.Text, t.Text, lo, hi)
	}
}

// parseIntRange reads a decimal integer in lo..hi, with a sign only when lo < 0.
func parseIntRange(s string, lo, hi int) (int, bool) {
	neg := false
	if lo < 0 && strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	u, ok := parseUint(s, math.MaxInt32)
	if !ok {
		return 0, false
	}
	v := int(u)
	if neg {
		v = -v
	}
	return v, v >= lo && v <= hi
}

// secondsField stores keepalived's decimal seconds; zero allows "0".
func secondsField[T any](get func(*T) *time.Duration, zero bool) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		if v, ok := parseSecondsZero(t.Text, zero); ok {
			*get(into) = v
			return
		}
		least := "0.000001"
		if zero {
			least = "0"
		}
		d.errorf(t.Pos, "%s: %s %q: want seconds, at least %s, at most 6 decimal places", d.where, n.Key.Text, t.Text, least)
	}
}

// parseSecondsZero is parseSeconds that also takes 0 when zero is set.
func parseSecondsZero(s string, zero bool) (time.Duration, bool) {
	if zero && strings.Trim(s, "0.") == "" && strings.Count(s, ".") <= 1 && s != "." && s != "" {
		return 0, true
	}
	return parseSeconds(s)
}

// addrField stores one IPv4 or IPv6 address.
func addrField[T any](get func(*T) *netip.Addr) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		if a, ok := parseAddr(t.Text); ok {
			*get(into) = a
			return
		}
		d.errorf(t.Pos, "%s: %s %q: want an IPv4 or IPv6 address", d.where, n.Key.Text, t.Text)
	}
}

// portField stores a port, 0..65535.
func portField[T any](get func(*T) *uint16) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		if p, ok := parsePort(t.Text); ok {
			*get(into) = p
			return
		}
		d.errorf(t.Pos, "%s: %s %q: want 0..65535", d.where, n.Key.Text, t.Text)
	}
}

// enumField stores one of a fixed set of words, compared without case and stored as
// spelled in the set.
func enumField[T any](get func(*T) *string, set ...string) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		for _, s := range set {
			if strings.EqualFold(t.Text, s) {
				*get(into) = s
				return
			}
		}
		d.errorf(t.Pos, "%s: %s %q: want %s", d.where, n.Key.Text, t.Text, orList(set))
	}
}

// orList writes "a, b or c".
func orList(set []string) string {
	if len(set) == 1 {
		return set[0]
	}
	return strings.Join(set[:len(set)-1], ", ") + " or " + set[len(set)-1]
}

// listField stores a block of values, one word per line, or the words after the keyword
// ("notification_email { a@b c@d }").
func listField[T any](get func(*T) *[]string) field[T] {
	return func(d *decoder, n *node, into *T) {
		list := get(into)
		for _, a := range n.Args {
			*list = append(*list, a.Text)
		}
		if n.Block == nil {
			return
		}
		for _, c := range n.Block.Nodes {
			*list = append(*list, c.Key.Text)
			for _, a := range c.Args {
				*list = append(*list, a.Text)
			}
			if c.Block != nil {
				d.errorf(c.Block.Open, "%s: %s: unexpected block", d.where, n.Key.Text)
			}
		}
	}
}

// lines returns the statements of a value block (virtual_ipaddress { ... }), reporting a
// missing block or nested blocks.
func lines(d *decoder, n *node) []*node {
	if len(n.Args) > 0 {
		d.errorf(n.Args[0].Pos, "%s: %s: unexpected argument %q; the values go in a { block }", d.where, n.Key.Text, n.Args[0].Text)
	}
	if n.Block == nil {
		d.errorf(n.Key.Pos, "%s: %s: want a { block }", d.where, n.Key.Text)
		return nil
	}
	out := make([]*node, 0, len(n.Block.Nodes))
	for _, c := range n.Block.Nodes {
		if c.Block != nil {
			d.errorf(c.Block.Open, "%s: %s: unexpected block", d.where, n.Key.Text)
			continue
		}
		out = append(out, c)
	}
	return out
}

// lineWords is the words of a value-block line: its keyword and arguments.
func lineWords(c *node) []token { return append([]token{c.Key}, c.Args...) }

// trackField reads track_script, track_interface, track_file or track_process:
// "{ NAME [weight N [reverse|noreverse]] ... }", N in -254..254.
func trackField[T any](get func(*T) *[]Track) field[T] {
	return trackFieldLimit(get, 254)
}

// trackFieldLimit is trackField with weights in -limit..limit (track_bfd: 253).
func trackFieldLimit[T any](get func(*T) *[]Track, limit int) field[T] {
	return func(d *decoder, n *node, into *T) {
		list := get(into)
		for _, c := range lines(d, n) {
			tr := Track{Pos: c.Key.Pos, Name: c.Key.Text}
			args := c.Args
			if len(args) >= 2 && args[0].Text == "weight" {
				w, ok := parseIntRange(args[1].Text, -limit, limit)
				if !ok {
					d.errorf(args[1].Pos, "%s: %s %s: weight %q: want %d..%d", d.where, n.Key.Text, c.Key.Text, args[1].Text, -limit, limit)
				}
				tr.Weight = &w
				args = args[2:]
				if len(args) > 0 && (args[0].Text == "reverse" || args[0].Text == "noreverse") {
					tr.Reverse = args[0].Text == "reverse"
					args = args[1:]
				}
			}
			if len(args) > 0 {
				d.errorf(args[0].Pos, "%s: %s %s: unexpected %q; want NAME [weight N [reverse|noreverse]]", d.where, n.Key.Text, c.Key.Text, args[0].Text)
			}
			*list = append(*list, tr)
		}
	}
}
