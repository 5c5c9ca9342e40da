// Package config reads the keepalived.conf operators already run and decodes the part xlb
// acts on into a typed model: Parse and Load return a Config, warnings for what xlb skips,
// and every error at once as an ErrorList whose entries read "FILE:LINE:COL: message".
//
// # Design
//
// Reading happens in three stages, so that growing to keepalived's whole grammar adds
// table rows, not parsers:
//
//  1. lex (lex.go) turns bytes into words, quoted strings, braces and line ends, with the
//     position of each, following keepalived's lexical rules (comments with # and !, braces
//     split from words, quotes).
//  2. parseTree (tree.go) builds a generic tree of statements, each a keyword, its
//     arguments and an optional block, knowing no keyword. Brace mistakes are found here.
//  3. A schema per block (schema.go) walks the tree. Each word falls in one of three
//     kinds: modelled (a field function decodes it into the model), known to keepalived
//     but not modelled (a warning, and the word with its block is skipped), or unknown to
//     keepalived (an error suggesting the nearest word of that block). Blocks that are
//     skipped are still checked against the registry, so a typo inside a vrrp_instance or
//     an HTTP_GET is reported even though xlb does not act on it yet.
//
// The registry (keywords.go) lists every keyword keepalived accepts, block by block, as
// data. Include files, @conditional lines, $MACROS and ~SEQ are recognised and refused
// with an error until they are expanded (directive.go); that expansion will sit between
// the lexer and the tree.
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
// Modelling a keyword: add the field to the model (model.go), write a field function
// (see virtual_server.go: take the value with value(), check it, report with d.errorf
// naming the item and the value, set the draft), and add the row to the block's schema
// fields map. TestSchemasKnownToKeepalived fails if the word is missing from the
// registry. Modelling a new block: a draft type, a schema[draft] with the registry block,
// and a field function in the parent that decodes the block with schema.decode.
package config
