// Package config reads the keepalived.conf operators already run into a typed model: Parse
// and Load (and their WithOptions forms) return a Config, warnings for what xlb skips or
// does not act on, and every error at once as an ErrorList whose entries read
// "FILE:LINE:COL: message".
//
// # Design
//
// Reading happens in four stages, so that growing to keepalived's whole grammar adds
// table rows, not parsers:
//
//  1. The reader (preprocess.go) does keepalived's line rewriting (lib/parser.c read_line):
//     include files (globs, relative to the including file), @ID and @^ID lines selected by
//     Options.ConfigID, $NAME macros (multi-line too, and the built-ins), ~SEQ and ~LST. Each
//     finished line is lexed where it stands, so every token keeps its file, line, column
//     and the include chain (Pos.From).
//  2. lex (lex.go) turns a line into words, quoted strings and braces, following
//     keepalived's lexical rules (comments with # and !, braces split from words, quotes).
//  3. parseTree (tree.go) builds a generic tree of statements, each a keyword, its
//     arguments and an optional block, knowing no keyword. Brace mistakes are found here.
//  4. A schema per block walks the tree. Each word falls in one of three kinds: modelled
//     (a field function decodes and checks it into the model; fields.go holds the shared
//     ones), known to keepalived but not modelled (a warning, and the word with its block
//     is skipped), or unknown to keepalived (an error suggesting the nearest word of that
//     block). Skipped blocks are still checked against the registry, so a typo inside a
//     skipped block is reported too. Once the tree is decoded, finishServers expands
//     virtual_server groups and finds duplicate services, and crossCheck (xref.go) checks
//     references between blocks (track_script, sync group members, VRIDs).
//
// The registry (keywords.go) lists every keyword keepalived accepts, block by block, as
// data; every one of them is modelled today, so the "known, not modelled" kind is empty
// but kept for the words a later keepalived adds. The model (model.go, model_vrrp.go,
// model_global.go) covers global_defs with its tuning groups (allocated only when one of
// their words is written), the top-level process words, the static_* blocks, VRRP
// and what it tracks (scripts, files, processes, BFD sessions; tracker.go), garp groups,
// virtual servers and groups, real servers and every checker keepalived has. xlb acts on the virtual servers; notacted.go lists what it parses
// and does not act on yet, each drawing a warning where it is written. Dump writes the model
// as JSON for `xlbd -t --dump` (schema in docs/config.md).
//
// Defaults and checks follow keepalived's (check/check_data.c), since the same file must
// mean the same services: no protocol means UDP (with a warning, as keepalived gives),
// lb_algo wlc, lb_kind NAT, delay_loop 60s, a real's weight the virtual server's weight
// (default 1), a real without port the virtual server's port, and under DR or TUN a
// real's port reset to the virtual server's (warning). A virtual server without real
// servers is dropped with a warning, as keepalived drops it.
//
// # Adding a keyword
//
// A keyword keepalived added: put the word in its block's list in keywords.go (or a new
// newBlock for a new keyword block). It is then accepted with a "not supported" warning.
//
// Modelling a keyword: add the field to the model with its json tag (keepalived's word),
// add a row to the block's schema fields map (a shared field function from fields.go, or
// one of its own: take the value with value(), check it, report with d.errorf naming the
// item and the value), and a row to notActedOn until something acts on it. Then run
// go test ./config -update to refresh the dumps in testdata/config and the keyword list in
// docs/config.md, and review the diff. TestSchemasKnownToKeepalived fails if the word is
// missing from the registry. Modelling a new block: a schema with the registry block, and
// a field function in the parent that decodes the block with schema.decode.
package config
