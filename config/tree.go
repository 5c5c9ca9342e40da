package config

import (
	"fmt"
	"strings"
)

// node is one statement of the generic tree: a keyword, its arguments, and the block that
// follows it when there is one. The tree knows nothing about keepalived's keywords; the
// schema gives it meaning.
type node struct {
	Key   token
	Args  []token
	Block *blockNode // nil when the statement has no braces
}

// blockNode is a brace-delimited list of statements.
type blockNode struct {
	Open  Pos // the "{"
	Nodes []*node
}

// String names the statement the way messages quote it: keyword and arguments.
func (n *node) String() string {
	parts := make([]string, 0, 1+len(n.Args))
	parts = append(parts, n.Key.Text)
	for _, a := range n.Args {
		parts = append(parts, a.Text)
	}
	return strings.Join(parts, " ")
}

// parseTree builds the statement tree from tokens. Statements end at a newline or a brace,
// as keepalived treats a brace like a line break. A "{" opens a block for the statement
// before it, whether it ends that statement's line or starts the next one (keepalived
// accepts both). Brace mismatches are reported where they can be fixed: a "}" with nothing
// open, or a "{" never closed.
func parseTree(toks []token) ([]*node, []Diagnostic) {
	p := &treeParser{toks: toks}
	nodes := p.list(nil)
	return nodes, p.errs
}

type treeParser struct {
	toks  []token
	i     int
	depth int
	errs  []Diagnostic
}

// maxDepth bounds block nesting. keepalived's deepest block is four levels down
// (virtual_server, real_server, HTTP_GET, url); the bound keeps a hostile file from
// recursing without limit.
const maxDepth = 32

// block reads the statements of the block opened by open, which the caller has consumed.
func (p *treeParser) block(open token) *blockNode {
	if p.depth >= maxDepth {
		p.errorf(open.Pos, fmt.Sprintf("blocks nested deeper than %d levels", maxDepth))
		p.skipBlock(open)
		return &blockNode{Open: open.Pos}
	}
	p.depth++
	defer func() { p.depth-- }()
	return &blockNode{Open: open.Pos, Nodes: p.list(&open)}
}

// skipBlock consumes tokens up to the "}" matching open without building nodes.
func (p *treeParser) skipBlock(open token) {
	for level := 1; p.i < len(p.toks); p.i++ {
		switch p.toks[p.i].Kind {
		case tokOpen:
			level++
		case tokClose:
			level--
			if level == 0 {
				p.i++
				return
			}
		}
	}
	p.errorf(open.Pos, "'{' has no matching '}'")
}

func (p *treeParser) errorf(pos Pos, msg string) {
	p.errs = append(p.errs, Diagnostic{Pos: pos, Msg: msg})
}

func (p *treeParser) skipNewlines() {
	for p.i < len(p.toks) && p.toks[p.i].Kind == tokNewline {
		p.i++
	}
}

// list reads statements until the "}" closing open, or to the end when open is nil.
func (p *treeParser) list(open *token) []*node {
	var nodes []*node
	var last *node // the statement a "{" on the next line would belong to
	for {
		p.skipNewlines()
		if p.i >= len(p.toks) {
			if open != nil {
				p.errorf(open.Pos, "'{' has no matching '}'")
			}
			return nodes
		}
		t := p.toks[p.i]
		switch t.Kind {
		case tokClose:
			p.i++
			if open != nil {
				return nodes
			}
			p.errorf(t.Pos, "unexpected '}': no block is open")
			last = nil
		case tokOpen:
			p.i++
			b := p.block(t)
			if last != nil && last.Block == nil {
				last.Block = b
				break
			}
			// Keep the stray block's words out of the tree but its braces balanced.
			p.errorf(t.Pos, "unexpected '{': no keyword before it")
		default:
			n := &node{Key: t}
			p.i++
			for p.i < len(p.toks) {
				a := p.toks[p.i]
				if a.Kind != tokWord && a.Kind != tokString {
					break
				}
				n.Args = append(n.Args, a)
				p.i++
			}
			nodes = append(nodes, n)
			last = n
			if p.i < len(p.toks) && p.toks[p.i].Kind == tokOpen {
				open := p.toks[p.i]
				p.i++
				n.Block = p.block(open)
			}
			if n.Block != nil {
				// "a { } {" is an error, not a second block for a.
				last = nil
			}
		}
	}
}
