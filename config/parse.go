package config

import (
	"fmt"
	"os"
)

// configDraft is the configuration being decoded.
type configDraft struct {
	cfg  Config
	seen map[serviceKey]Pos // virtual servers so far, to find duplicates
}

var topLevelSchema = &schema[configDraft]{
	words: topLevelWords,
	fields: map[string]field[configDraft]{
		"virtual_server": decodeVirtualServer,
	},
}

// Load reads and parses the keepalived.conf at path. Messages name the file as path is
// written. A file that cannot be read is a plain error; a configuration with mistakes
// returns an ErrorList. Warnings (words xlb does not act on yet) come with or without an
// error.
func Load(path string) (*Config, []Diagnostic, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, src)
}

// Parse parses keepalived.conf text; name is the file name used in messages. It returns
// every error as an ErrorList and no Config when there is any, so that a caller never acts
// on half a file.
func Parse(name string, src []byte) (*Config, []Diagnostic, error) {
	toks, lexErrs := lex(name, src)
	nodes, treeErrs := parseTree(toks)
	d := &decoder{}
	d.errs = append(append(d.errs, lexErrs...), treeErrs...)
	draft := &configDraft{seen: make(map[serviceKey]Pos)}
	topLevelSchema.decode(d, "top level", nodes, draft)
	sortDiagnostics(d.errs)
	sortDiagnostics(d.warns)
	if len(d.errs) > 0 {
		return nil, d.warns, ErrorList(d.errs)
	}
	return &draft.cfg, d.warns, nil
}
