package config

import (
	"cmp"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// This file is the stage between reading files and the tree: keepalived's line rewriting
// (lib/parser.c read_line). It works on lines of text, as keepalived does, because macros
// may expand to several words, braces or even comments:
//
//   - "include PATTERN" (and includer, includem, includew, includeb, includea) reads every
//     file the glob matches, in name order, relative to the directory of the including file.
//   - "@ID rest" keeps rest only when ID is the configuration id; "@^ID rest" only when it is
//     not.
//   - "$NAME=value" defines a macro, continued on the next lines while a line ends in "\";
//     "$NAME" and "${NAME}" are replaced by the value anywhere later. keepalived's built-in
//     macros are there too: _PWD, _INSTANCE, _HASH, _BANG, ${_ENV NAME}, ${_RANDOM [MIN] MAX}.
//   - "~SEQ(VAR, [START,] [STEP,] END) rest" repeats rest with $VAR set to each number;
//     "~LST(VAR, V1, V2) rest" and "~LST({A, B}, {1, 2}, {3, 4}) rest" with each value.
//
// Positions: every token keeps the file, line and column it was read from, and Pos.From
// names the include line that read the file. On a line a macro changed, columns count in
// the expanded text, since the words there were never written as such.

// Options changes how a configuration is read.
type Options struct {
	// ConfigID selects the "@ID" conditional lines, keepalived's --config-id. Empty means
	// the host name up to its first dot, keepalived's default.
	ConfigID string
	// Env looks up ${_ENV NAME}; nil means os.Getenv.
	Env func(string) string

	// fsys, when set, holds the included files instead of the operating system, with
	// paths read without their leading "/" (tests and fuzzing).
	fsys fs.FS
	// maxLines, when set, lowers the limit of lines (and steps, four times it) so that
	// fuzzing spends its time on variety, not on long expansions.
	maxLines int
}

// Limits that keep a hostile or mistaken file from expanding without end. keepalived has
// fixed line buffers; these are generous in comparison.
const (
	maxIncludeDepth = 16      // include inside include ...
	maxExpandDepth  = 32      // macro inside macro, ~SEQ inside ~SEQ ...
	maxLineLen      = 1 << 16 // bytes of one line after expansion
	maxSeqCount     = 1 << 16 // values one ~SEQ may produce
	maxLines        = 1 << 19 // lines one configuration may expand to; 8 times the benchmark
	stepsPerLine    = 4       // lines read, expanded or defined, per line emitted: bounds macro blow-ups
	maxFileSize     = 1 << 26 // bytes of one included file
)

// macro is one $NAME definition. A multi-line macro has several lines.
type macro struct {
	lines []string
	fn    func(params []string) (string, bool) // built-in macros compute their value
	// params bounds the parameters a built-in takes in the ${NAME PARAM...} form.
	minParams, maxParams int
}

// reader expands the lines of a configuration into tokens.
type reader struct {
	opts  Options
	d     *decoder
	defs  map[string]*macro
	out   []token
	stack []string // files being read, to refuse include cycles
	dir   string   // directory of the file being read, for _PWD and relative includes

	// pending collects a multi-line definition across lines; nil when none is open.
	pending *macro
	lines   int  // lines emitted so far
	steps   int  // lines processed so far, expansions included
	stopped bool // maxLines or maxSteps reached: the rest is not read
}

func newReader(d *decoder, opts Options) *reader {
	if opts.ConfigID == "" {
		host, _ := os.Hostname()
		opts.ConfigID, _, _ = strings.Cut(host, ".")
	}
	if opts.Env == nil {
		opts.Env = os.Getenv
	}
	if opts.maxLines == 0 {
		opts.maxLines = maxLines
	}
	r := &reader{opts: opts, d: d, defs: make(map[string]*macro)}
	constant := func(v string) *macro {
		return &macro{fn: func([]string) (string, bool) { return v, true }}
	}
	r.defs["_HASH"] = constant("#")
	r.defs["_BANG"] = constant("!")
	r.defs["_INSTANCE"] = constant(opts.ConfigID)
	r.defs["_PWD"] = &macro{fn: func([]string) (string, bool) {
		abs, err := filepath.Abs(r.dir)
		return abs, err == nil
	}}
	r.defs["_ENV"] = &macro{minParams: 1, maxParams: 1, fn: func(p []string) (string, bool) {
		return r.opts.Env(p[0]), true
	}}
	r.defs["_RANDOM"] = &macro{maxParams: 2, fn: randomMacro}
	return r
}

// randomMacro is keepalived's ${_RANDOM [MIN] MAX}: a number in MIN..MAX, default 0..32767.
func randomMacro(p []string) (string, bool) {
	lo, hi := uint64(0), uint64(32767)
	var ok bool
	switch len(p) {
	case 1:
		hi, ok = parseUint(p[0], 1<<31)
	case 2:
		if lo, ok = parseUint(p[0], 1<<31); ok {
			hi, ok = parseUint(p[1], 1<<31)
		}
	default:
		ok = true
	}
	if !ok {
		return "", false
	}
	hi = max(hi, lo)
	return strconv.FormatUint(lo+rand.Uint64N(hi-lo+1), 10), true
}

// file reads one configuration file; from is the include line that names it (nil for the
// main file).
func (r *reader) file(path string, src []byte, from *Pos) {
	saved := r.dir
	r.dir = filepath.Dir(path)
	r.stack = append(r.stack, filepath.Clean(path))
	defer func() {
		r.dir = saved
		r.stack = r.stack[:len(r.stack)-1]
	}()
	// One string for the file: lines and words are slices of it, not copies.
	rest := string(src)
	line := 0
	for len(rest) > 0 && !r.stopped {
		line++
		raw := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		text := strings.TrimRight(raw, "\r")
		if r.pending != nil && text == "" {
			// keepalived ends a multi-line definition at an empty line (one of blanks or
			// a comment does not end it).
			r.pending = nil
			continue
		}
		text, col := trimLine(cutComment(text))
		if text == "" {
			continue
		}
		r.line(text, Pos{File: path, Line: line, Col: col, From: from}, 0)
	}
	r.pending = nil
}

// trimLine drops the blanks around s and returns the column where what is left starts.
func trimLine(s string) (string, int) {
	t := strings.TrimLeft(s, " \t\f\v")
	col := len(s) - len(t) + 1
	return strings.TrimRight(t, " \t\f\v"), col
}

// cutComment drops a "#" or "!" comment outside quotes, keeping escapes ("\#") for the
// lexer, which turns them into the character.
func cutComment(s string) string {
	quote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quote = !quote
		case '\\':
			i++
		case '#', '!':
			if !quote {
				return s[:i]
			}
		}
	}
	return s
}

// line processes one non-empty line whose text starts at pos, in keepalived's order:
// continuation of a multi-line definition, @ID, definition, ~SEQ, macro expansion, and
// last include; what is left is lexed into tokens.
func (r *reader) line(text string, pos Pos, depth int) {
	if r.stopped {
		return
	}
	if r.steps++; r.steps > r.opts.maxLines*stepsPerLine {
		r.d.errorf(pos, "configuration expands to more than %d lines; the rest is not read", r.opts.maxLines*stepsPerLine)
		r.stopped = true
		return
	}
	if depth > maxExpandDepth {
		r.d.errorf(pos, "macros and ~SEQ nested deeper than %d levels", maxExpandDepth)
		return
	}
	if m := r.pending; m != nil {
		if body, ok := strings.CutSuffix(text, `\`); ok {
			m.lines = append(m.lines, strings.TrimRight(body, " \t"))
			return
		}
		m.lines = append(m.lines, text)
		r.pending = nil
		return
	}
	if text[0] == '@' {
		i := strings.IndexAny(text, " \t")
		if i < 0 {
			// keepalived drops an "@ID" with nothing after it.
			return
		}
		id, rest := text[1:i], text[i:]
		want := true
		if strings.HasPrefix(id, "^") {
			id, want = id[1:], false
		}
		if (id == r.opts.ConfigID) != want {
			return
		}
		t := strings.TrimLeft(rest, " \t")
		pos.Col += len(text) - len(t)
		text = t
	}
	if name, value, ok := definition(text); ok {
		m := &macro{}
		if body, multi := strings.CutSuffix(value, `\`); multi {
			if body = strings.TrimRight(body, " \t"); body != "" {
				m.lines = append(m.lines, body)
			}
			r.pending = m
		} else {
			m.lines = []string{value}
		}
		r.defs[name] = m
		return
	}
	if strings.HasPrefix(text, "~SEQ") {
		r.seq(text, pos, depth)
		return
	}
	if strings.HasPrefix(text, "~LST") {
		r.lst(text, pos, depth)
		return
	}
	if text[0] != '~' && strings.IndexByte(text, '$') >= 0 {
		if first, more, changed := r.expand(text, pos); changed {
			first, col := trimLine(cutComment(first))
			if first != "" {
				p := pos
				p.Col += col - 1
				r.line(first, p, depth+1)
			}
			for _, l := range more {
				if l, _ = trimLine(cutComment(l)); l != "" {
					r.line(l, pos, depth+1)
				}
			}
			return
		}
	}
	if r.include(text, pos) {
		return
	}
	r.emit(text, pos)
}

// emit lexes a finished line and appends its tokens, placed where the line starts.
func (r *reader) emit(text string, pos Pos) {
	if r.lines++; r.lines > r.opts.maxLines {
		r.d.errorf(pos, "configuration expands to more than %d lines; the rest is not read", r.opts.maxLines)
		r.stopped = true
		return
	}
	var errs []Diagnostic
	r.out, errs = lexAppend(r.out, text, pos)
	for _, e := range errs {
		r.d.errorf(e.Pos, "%s", e.Msg)
	}
}

// definition recognises "$NAME=value": NAME is a letter or "_" then letters, digits and
// "_", with "=" right after it, as keepalived reads it.
func definition(text string) (name, value string, ok bool) {
	if len(text) < 3 || text[0] != '$' || !isNameStart(text[1]) {
		return "", "", false
	}
	i := 2
	for i < len(text) && isNameByte(text[i]) {
		i++
	}
	if i == len(text) || text[i] != '=' {
		return "", "", false
	}
	return text[1:i], strings.TrimLeft(text[i+1:], " \t"), true
}

func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isNameByte(c byte) bool { return isNameStart(c) || '0' <= c && c <= '9' }

// expand replaces the macros of text. A multi-line macro expands only when it ends the
// line: its first line takes the macro's place, the other lines follow (more). Unknown
// names stay as written, as in keepalived. changed is false when nothing was replaced.
func (r *reader) expand(text string, pos Pos) (out string, more []string, changed bool) {
	var b strings.Builder
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '$')
		if j < 0 {
			b.WriteString(text[i:])
			break
		}
		b.WriteString(text[i : i+j])
		i += j
		m, params, n := r.lookup(text[i+1:], pos)
		if m == nil {
			b.WriteByte('$')
			i++
			continue
		}
		changed = true
		switch {
		case m.fn != nil:
			v, ok := m.fn(params)
			if !ok {
				r.d.errorf(pos, "%s: bad parameters", text[i:i+1+n])
			}
			b.WriteString(v)
		case len(m.lines) > 1 && i+1+n == len(text):
			b.WriteString(m.lines[0])
			more = m.lines[1:]
		case len(m.lines) > 0:
			b.WriteString(m.lines[0])
		}
		i += 1 + n
		if b.Len() > maxLineLen {
			r.d.errorf(pos, "line longer than %d bytes after macro expansion", maxLineLen)
			return "", nil, true
		}
	}
	return b.String(), more, changed
}

// lookup finds the macro named at the start of s (the text after a "$"): NAME, which must
// be followed by a blank, ",", ")" or the end of the line, or {NAME} and {NAME PARAM...}.
// It returns the macro, its parameters and how many bytes of s the reference takes.
func (r *reader) lookup(s string, pos Pos) (*macro, []string, int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return nil, nil, 0
		}
		fields := strings.Fields(s[1:end])
		if len(fields) == 0 || !validName(fields[0]) {
			return nil, nil, 0
		}
		m := r.defs[fields[0]]
		if m == nil {
			return nil, nil, 0
		}
		params := fields[1:]
		if len(params) > 0 && (m.fn == nil || len(params) > m.maxParams) || len(params) < m.minParams {
			r.d.errorf(pos, "${%s}: want %d to %d parameters", s[1:end], m.minParams, m.maxParams)
			return nil, nil, 0
		}
		return m, params, end + 1
	}
	n := 0
	for n < len(s) && isNameByte(s[n]) {
		n++
	}
	if n == 0 || !isNameStart(s[0]) {
		return nil, nil, 0
	}
	if n < len(s) && !strings.ContainsRune(" \t,)", rune(s[n])) {
		return nil, nil, 0
	}
	m := r.defs[s[:n]]
	if m == nil || m.minParams > 0 || len(m.lines) > 1 && n < len(s) {
		return nil, nil, 0
	}
	return m, nil, n
}

func validName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// seq expands "~SEQ(VAR, END)", "~SEQ(VAR, START, END)" or "~SEQ(VAR, START, STEP, END)"
// followed by the line to repeat; "~SEQx" writes the numbers in hex (for IPv6 addresses).
// Numbers are C's: decimal, 0x hex or 0 octal. As in keepalived, VAR keeps its last value.
func (r *reader) seq(text string, pos Pos, depth int) {
	bad := func(why string) { r.d.errorf(pos, "~SEQ: %s; want ~SEQ(VAR, [START,] [STEP,] END) LINE", why) }
	s := text[len("~SEQ"):]
	hex := strings.HasPrefix(s, "x")
	if hex {
		s = s[1:]
	}
	s = strings.TrimLeft(s, " \t")
	if !strings.HasPrefix(s, "(") {
		bad("no '('")
		return
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		bad("no ')'")
		return
	}
	args := strings.Split(s[1:end], ",")
	rest := strings.TrimLeft(s[end+1:], " \t")
	name := strings.TrimSpace(args[0])
	if !validName(name) || len(args) < 2 || len(args) > 4 {
		bad("bad variable or number of values")
		return
	}
	var nums []int64
	for _, a := range args[1:] {
		a, _, _ = r.expand(strings.TrimSpace(a), pos)
		v, err := strconv.ParseInt(strings.TrimSpace(a), 0, 64)
		if err != nil {
			bad(fmt.Sprintf("%q is not a number", a))
			return
		}
		nums = append(nums, v)
	}
	var start, step, last int64
	switch len(nums) {
	case 1:
		last = nums[0]
		start, step = 1, 1
		if last < 0 {
			start = -1
		}
		if last < 1 {
			step = -1
		}
	case 2:
		start, last = nums[0], nums[1]
		step = int64(cmp.Compare(last, start))
		if step == 0 {
			step = 1
		}
	case 3:
		start, step, last = nums[0], nums[1], nums[2]
		if step == 0 || start < last && step < 0 || start > last && step > 0 {
			bad("the step does not lead from start to end")
			return
		}
	}
	if hex && (start < 0 || last < 0) {
		bad("~SEQx takes only positive numbers")
		return
	}
	if rest == "" {
		return
	}
	count := 0
	for v := start; step > 0 && v <= last || step < 0 && v >= last; v += step {
		if count++; count > maxSeqCount {
			r.d.errorf(pos, "~SEQ: more than %d values", maxSeqCount)
			return
		}
		val := strconv.FormatInt(v, 10)
		if hex {
			val = strconv.FormatInt(v, 16)
		}
		r.defs[name] = &macro{lines: []string{val}}
		p := pos
		p.Col += len(text) - len(rest)
		r.line(rest, p, depth+1)
		if r.stopped {
			return
		}
	}
}

// lst expands "~LST(VAR, V1, V2, ...) LINE", repeating LINE with $VAR set to each value,
// and "~LST({A, B}, {1, 2}, {3, 4}) LINE" setting several variables at a time; values
// missing from a set are empty, as in keepalived.
func (r *reader) lst(text string, pos Pos, depth int) {
	bad := func(why string) {
		r.d.errorf(pos, "~LST: %s; want ~LST(VAR, VALUE, ...) LINE or ~LST({VAR, ...}, {VALUE, ...}, ...) LINE", why)
	}
	s := strings.TrimLeft(text[len("~LST"):], " \t")
	end := strings.IndexByte(s, ')')
	if !strings.HasPrefix(s, "(") || end < 0 {
		bad("no ( ... )")
		return
	}
	rest := strings.TrimLeft(s[end+1:], " \t")
	sets, ok := lstSets(s[1:end])
	if !ok || len(sets) < 2 {
		bad("unbalanced braces or no value")
		return
	}
	vars := sets[0]
	for _, v := range vars {
		if !validName(v) {
			bad(fmt.Sprintf("%q is not a variable name", v))
			return
		}
	}
	for _, set := range sets[1:] {
		if len(set) > len(vars) {
			bad(fmt.Sprintf("{%s} has more values than variables", strings.Join(set, ", ")))
			return
		}
	}
	if rest == "" {
		return
	}
	p := pos
	p.Col += len(text) - len(rest)
	for _, set := range sets[1:] {
		for i, v := range vars {
			val := ""
			if i < len(set) {
				val = set[i]
			}
			r.defs[v] = &macro{lines: []string{val}}
		}
		r.line(rest, p, depth+1)
		if r.stopped {
			return
		}
	}
}

// lstSets splits the inside of ~LST( ... ) into sets: a "{a, b}" group is one set, a bare
// item a set of one. Blanks around items are dropped.
func lstSets(s string) ([][]string, bool) {
	var sets [][]string
	for {
		s = strings.TrimLeft(s, " \t")
		var set []string
		if strings.HasPrefix(s, "{") {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return nil, false
			}
			for _, v := range strings.Split(s[1:end], ",") {
				set = append(set, strings.TrimSpace(v))
			}
			s = strings.TrimLeft(s[end+1:], " \t")
		} else {
			v := s
			if i := strings.IndexByte(s, ','); i >= 0 {
				v, s = s[:i], s[i:]
			} else {
				s = ""
			}
			if strings.ContainsAny(v, "{}") {
				return nil, false
			}
			set = []string{strings.TrimSpace(v)}
		}
		sets = append(sets, set)
		if s == "" {
			return sets, true
		}
		if s[0] != ',' {
			return nil, false
		}
		s = s[1:]
	}
}

// include reads the files an include line names and reports whether text was one. Like
// keepalived, "include" must be followed by a blank, and the letters r, m, w, b, a after it
// (include checks keepalived makes of the files) are accepted. A pattern that matches
// nothing is an error when it has no glob characters (a file the operator named is
// missing), a warning otherwise (an empty conf.d is normal).
func (r *reader) include(text string, pos Pos) bool {
	i := strings.IndexAny(text, " \t")
	if i < 0 {
		return false
	}
	kw, pattern := text[:i], text[i+1:]
	if !(kw == "include" || len(kw) == len("include")+1 && strings.HasPrefix(kw, "include") &&
		strings.ContainsRune("rmwba", rune(kw[len(kw)-1]))) {
		return false
	}
	pattern = strings.Trim(strings.TrimSpace(pattern), `"`)
	if pattern == "" {
		return false
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(r.dir, pattern)
	}
	if len(r.stack) > maxIncludeDepth {
		r.d.errorf(pos, "%s %s: includes nested deeper than %d levels", kw, pattern, maxIncludeDepth)
		return true
	}
	files, err := r.glob(pattern)
	if err != nil {
		r.d.errorf(pos, "%s %s: %v", kw, pattern, err)
		return true
	}
	if len(files) == 0 {
		if strings.ContainsAny(pattern, "*?[") {
			r.d.warnf(pos, "%s %s: no file matches; nothing included", kw, pattern)
		} else {
			r.d.errorf(pos, "%s %s: no such file", kw, pattern)
		}
		return true
	}
	from := pos
	for _, f := range files {
		if i := indexOf(r.stack, filepath.Clean(f)); i >= 0 {
			r.d.errorf(pos, "%s %s: include cycle: %s", kw, f, strings.Join(append(r.stack[i:], f), " -> "))
			continue
		}
		src, err := r.read(f)
		if err != nil {
			r.d.errorf(pos, "%s %s: %v", kw, f, err)
			continue
		}
		if src == nil {
			continue // a directory, as keepalived skips them
		}
		r.file(f, src, &from)
	}
	return true
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// glob lists the files matching pattern, in name order.
func (r *reader) glob(pattern string) ([]string, error) {
	if r.opts.fsys == nil {
		return filepath.Glob(pattern)
	}
	files, err := fs.Glob(r.opts.fsys, strings.TrimPrefix(pattern, "/"))
	for i, f := range files {
		if strings.HasPrefix(pattern, "/") {
			files[i] = "/" + f
		}
	}
	return files, err
}

// read returns the bytes of an included file; nil, nil for a directory. Only regular
// files are read, and only up to maxFileSize, so that "include /dev/zero" is an error
// and not a hang.
func (r *reader) read(path string) ([]byte, error) {
	fsys := r.opts.fsys
	name := strings.TrimPrefix(path, "/")
	if fsys == nil {
		fsys, name = os.DirFS("/"), ""
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		name = strings.TrimPrefix(abs, "/")
	}
	st, err := fs.Stat(fsys, name)
	switch {
	case err != nil:
		return nil, err
	case st.IsDir():
		return nil, nil
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("not a regular file")
	case st.Size() > maxFileSize:
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	b, err := fs.ReadFile(fsys, name)
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, err
}
