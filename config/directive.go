package config

import "strings"

// directive recognises the lines keepalived's reader rewrites before any keyword is looked
// up (lib/parser.c read_line): include files, "@ID" conditional lines, "$NAME" macros and
// "~SEQ"/"~LST" expansion. xlb does not expand them yet, and guessing would change which
// services exist, so each is an error. It reports whether n was one.
func (d *decoder) directive(n *node) bool {
	if n.Key.Kind != tokWord {
		return false
	}
	kw := n.Key.Text
	var what string
	switch {
	case kw == "include" || len(kw) == len("include")+1 && strings.HasPrefix(kw, "include") &&
		strings.ContainsAny(kw[len("include"):], "rmwba") && len(n.Args) > 0:
		what = "include files are"
	case strings.HasPrefix(kw, "@"):
		what = "conditional lines (@ID) are"
	case strings.HasPrefix(kw, "$"):
		what = "macros ($NAME) are"
	case strings.HasPrefix(kw, "~SEQ") || strings.HasPrefix(kw, "~LST"):
		what = "~SEQ and ~LST expansion are"
	default:
		return false
	}
	d.errorf(n.Key.Pos, "%s: %s not supported by xlb yet", kw, what)
	return true
}
