package config

import (
	"fmt"
	"strings"
)

// decoder collects the diagnostics of one Parse.
type decoder struct {
	errs  []Diagnostic
	warns []Diagnostic
	where string // the block being decoded, as messages name it
	// dropped counts the diagnostics past maxDiagnostics, which are not kept.
	droppedErrs, droppedWarns int
}

// maxDiagnostics bounds the errors (and, apart, the warnings) kept: past it, the file is
// likely not a keepalived.conf at all, and the count says enough.
const maxDiagnostics = 1000

func (d *decoder) errorf(pos Pos, format string, args ...any) {
	if len(d.errs) >= maxDiagnostics {
		d.droppedErrs++
		return
	}
	d.errs = append(d.errs, Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// errCount counts the errors reported so far, kept or not: a field function compares it
// before and after to tell whether a value was taken.
func (d *decoder) errCount() int { return len(d.errs) + d.droppedErrs }

func (d *decoder) warnf(pos Pos, format string, args ...any) {
	if len(d.warns) >= maxDiagnostics {
		d.droppedWarns++
		return
	}
	d.warns = append(d.warns, Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// finish sorts the diagnostics and, when some were dropped, says how many at the end.
func (d *decoder) finish() {
	sortDiagnostics(d.errs)
	sortDiagnostics(d.warns)
	more := func(ds []Diagnostic, n int, what string) []Diagnostic {
		if n == 0 || len(ds) == 0 {
			return ds
		}
		return append(ds, Diagnostic{Pos: ds[len(ds)-1].Pos, Msg: fmt.Sprintf("and %d more %s, not shown", n, what)})
	}
	d.errs = more(d.errs, d.droppedErrs, "errors")
	d.warns = more(d.warns, d.droppedWarns, "warnings")
}

// field decodes one modelled keyword's statement into the value being built for its block.
type field[T any] func(d *decoder, n *node, into *T)

// schema is the decoding table of one block: the keywords xlb models, and the registry
// block telling which other words keepalived knows there.
type schema[T any] struct {
	words  *block
	fields map[string]field[T]
	// other, when set, is offered the words the block does not know before they are
	// reported; it returns whether it took the word (old syntax, keepalived's bare lines).
	other func(d *decoder, n *node, into *T) bool
}

// decode walks the statements of a block: a modelled keyword is decoded, a keyword only
// keepalived knows draws a warning and is skipped with its block (whose words are still
// checked), anything else is an error. where names the block in messages.
func (s *schema[T]) decode(d *decoder, where string, nodes []*node, into *T) {
	saved := d.where
	defer func() { d.where = saved }()
	for _, n := range nodes {
		d.where = where
		kw := n.Key.Text
		if f, ok := s.fields[kw]; ok {
			f(d, n, into)
			if note, ok := notActedOn[s.words.name+"/"+kw]; ok {
				subject := kw
				if n.Block != nil {
					subject = n.String()
				}
				if where != topLevelWords.name {
					subject = where + ": " + subject
				}
				d.warnf(n.Key.Pos, "%s: parsed, but xlb does not act on it yet (%s)", subject, note)
			}
			continue
		}
		if s.other != nil && s.other(d, n, into) {
			continue
		}
		if s.words.knows(kw) {
			d.warnf(n.Key.Pos, "keyword %q in %s is not supported by xlb yet; ignored", kw, where)
			d.check(s.words.words[kw], n)
			continue
		}
		d.unknown(s.words, where, n)
	}
}

// check reports the words keepalived would reject inside n's block, which xlb skips; b is
// the registry block n opens, nil for a block of values.
func (d *decoder) check(b *block, n *node) {
	if n.Block == nil || b == nil {
		return
	}
	for _, c := range n.Block.Nodes {
		if b.knows(c.Key.Text) {
			d.check(b.words[c.Key.Text], c)
			continue
		}
		d.unknown(b, n.String(), c)
	}
}

// unknown reports n's keyword as unknown in b, suggesting the nearest word b knows.
func (d *decoder) unknown(b *block, where string, n *node) {
	if len(d.errs) >= maxDiagnostics {
		d.droppedErrs++ // and spare the suggestion's cost
		return
	}
	kw := n.Key.Text
	if s, ok := suggest(b, kw); ok {
		d.errorf(n.Key.Pos, "unknown keyword %q in %s; did you mean %s?", kw, where, s)
		return
	}
	d.errorf(n.Key.Pos, "unknown keyword %q in %s", kw, where)
}

// suggest returns the word of b closest to word by edit distance, ignoring case, when it is
// close enough to be a likely typo: at most 2 edits, or a third of the word's length for
// long words. Ties go to the alphabetically first word, so messages are stable.
func suggest(b *block, word string) (string, bool) {
	if len(word) > maxSuggestLen {
		return "", false
	}
	lw := strings.ToLower(word)
	best, bestDist := "", -1
	for w := range b.words {
		dist := editDistance(lw, strings.ToLower(w))
		if bestDist < 0 || dist < bestDist || (dist == bestDist && w < best) {
			best, bestDist = w, dist
		}
	}
	if bestDist < 0 || bestDist > max(2, len(word)/3) {
		return "", false
	}
	return best, true
}

// maxSuggestLen is past the longest keyword keepalived has: longer words are no typo of
// one, and skipping them keeps the quadratic distance cheap.
const maxSuggestLen = 64

// editDistance is the Levenshtein distance between a and b, counted in bytes (keywords are
// ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
