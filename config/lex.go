package config

import "strings"

// tokenKind says what a token is; the parser cares whether a word was quoted only to tell
// a "{" word from a real brace.
type tokenKind int

const (
	tokWord    tokenKind = iota + 1 // a bare word
	tokString                       // a "quoted string", Text without the quotes
	tokOpen                         // {
	tokClose                        // }
	tokNewline                      // end of a line that held at least one token
)

func (k tokenKind) String() string {
	switch k {
	case tokWord:
		return "word"
	case tokString:
		return "string"
	case tokOpen:
		return "{"
	case tokClose:
		return "}"
	case tokNewline:
		return "newline"
	}
	return "invalid"
}

// token is one lexical unit with the position of its first byte.
type token struct {
	Kind tokenKind
	Text string
	Pos  Pos
}

// isSpace reports the bytes that separate words. keepalived splits on blanks only; "\r" is
// included so that files written on Windows still parse.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'
}

// endsWord reports the bytes that end a bare word. Braces end a word because keepalived
// splits a line at its first brace outside quotes ("real_server 1.2.3.4 80{" is the keyword
// line, then "{"); "#" and "!" because they start a comment anywhere outside quotes; a quote
// because keepalived starts a new word at it ("a"b"" is "a" then "b").
func endsWord(c byte) bool {
	return isSpace(c) || c == '\n' || c == '"' || c == '{' || c == '}' || c == '#' || c == '!'
}

// lex splits src into tokens following keepalived's rules (lib/parser.c read_line, decomment
// and alloc_strvec):
//   - "#" and "!" outside quotes start a comment that runs to the end of the line; "\#" and
//     "\!" stand for the character itself, "\\" for two backslashes that escape nothing.
//   - A double-quoted string runs to the next double quote on the same line; its text keeps
//     everything between the quotes, backslashes included. Single quotes are ordinary bytes.
//   - "{" and "}" are tokens of their own even when glued to a word.
//   - A line ends a statement, so every non-empty line ends with a tokNewline.
//
// Errors (an unterminated string) are returned as diagnostics; lexing goes on so that the
// caller can report every mistake at once.
func lex(file string, src []byte) ([]token, []Diagnostic) {
	return lexAppend(nil, string(src), Pos{File: file, Line: 1, Col: 1})
}

// lexAppend lexes src as lex does, appending the tokens to toks. at is where src starts:
// its Line and File for every token, its Col added on src's first line, its From kept.
// Words without escapes share src's memory, so a line costs one allocation, not one per
// word.
func lexAppend(toks []token, src string, at Pos) ([]token, []Diagnostic) {
	var (
		errs      []Diagnostic
		line      = at.Line
		lineStart = 1 - at.Col // so that the first line's columns start at at.Col
		lineToks  = false
	)
	pos := func(i int) Pos { return Pos{File: at.File, Line: line, Col: i - lineStart + 1, From: at.From} }
	emit := func(k tokenKind, text string, p Pos) {
		toks = append(toks, token{Kind: k, Text: text, Pos: p})
		lineToks = true
	}
	endLine := func(i int) {
		if lineToks {
			toks = append(toks, token{Kind: tokNewline, Text: "\n", Pos: pos(i)})
		}
		lineToks = false
	}

	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			endLine(i)
			i++
			line++
			lineStart = i
		case isSpace(c):
			i++
		case c == '#' || c == '!':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '{':
			emit(tokOpen, "{", pos(i))
			i++
		case c == '}':
			emit(tokClose, "}", pos(i))
			i++
		case c == '"':
			start := pos(i)
			end := i + 1
			for end < len(src) && src[end] != '"' && src[end] != '\n' {
				end++
			}
			emit(tokString, src[i+1:end], start)
			if end < len(src) && src[end] == '"' {
				i = end + 1
				break
			}
			// keepalived drops the rest of the line; keeping it as the string lets the
			// parser go on and report later mistakes too.
			errs = append(errs, Diagnostic{Pos: start, Msg: "quoted string has no closing '\"' on its line"})
			i = end
		default:
			start, first := pos(i), i
			var word []byte // nil while the word is src[first:i]; set at the first escape
			for i < len(src) && !endsWord(src[i]) {
				if src[i] == '\\' && i+1 < len(src) {
					switch src[i+1] {
					case '\\':
						word = append(word, src[first:i]...)
						word = append(word, `\\`...)
						i += 2
						first = i
						continue
					case '#', '!':
						word = append(word, src[first:i]...)
						word = append(word, src[i+1])
						i += 2
						first = i
						continue
					}
				}
				i++
			}
			if word == nil {
				emit(tokWord, src[first:i], start)
				break
			}
			emit(tokWord, string(append(word, src[first:i]...)), start)
		}
	}
	endLine(len(src))
	return toks, errs
}

// quoteWord writes a word's text back in source form, escaping what lex would read as the
// start of a comment. It is lex's inverse for the words lex produces.
func quoteWord(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && s[i+1] == '\\':
			b.WriteString(`\\`)
			i++
		case c == '#' || c == '!':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// joinTokens writes tokens back as source that lexes to the same kinds and texts.
func joinTokens(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.Kind != tokNewline && toks[i-1].Kind != tokNewline {
			b.WriteByte(' ')
		}
		switch t.Kind {
		case tokWord:
			b.WriteString(quoteWord(t.Text))
		case tokString:
			b.WriteString(`"` + t.Text + `"`)
		default:
			b.WriteString(t.Text)
		}
	}
	return b.String()
}
