package config

import (
	"fmt"
	"os"
)

// configDraft is the configuration being decoded.
type configDraft struct {
	cfg     Config
	servers []*vsDraft // virtual servers without errors, in file order
}

var topLevelSchema = &schema[configDraft]{
	words: topLevelWords,
	fields: withFields(topLevelMoreFields(), map[string]field[configDraft]{
		"global_defs":          decodeGlobalDefs,
		"static_ipaddress":     decodeStaticAddresses,
		"static_routes":        decodeStaticRoutes,
		"static_rules":         decodeStaticRules,
		"vrrp_script":          decodeScript,
		"vrrp_track_file":      decodeTrackFile,
		"track_file":           decodeTrackFileTop,
		"vrrp_track_process":   decodeTrackProcess,
		"bfd_instance":         decodeBFDInstance,
		"garp_group":           decodeGarpGroup,
		"SSL":                  decodeSSL,
		"vrrp_sync_group":      decodeSyncGroup,
		"vrrp_instance":        decodeInstance,
		"virtual_server_group": decodeServerGroup,
		"local_address_group":  decodeLocalAddressGroup,
		"virtual_server":       decodeVirtualServer,
	}),
}

// Load reads and parses the keepalived.conf at path. Messages name the file as path is
// written. A file that cannot be read is a plain error; a configuration with mistakes
// returns an ErrorList. Warnings (words xlb does not act on yet) come with or without an
// error.
func Load(path string) (*Config, []Diagnostic, error) {
	return LoadWithOptions(path, Options{})
}

// LoadWithOptions is Load with the options keepalived takes on its command line, such as
// the configuration id that selects @ID lines.
func LoadWithOptions(path string, opts Options) (*Config, []Diagnostic, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load config: %w", err)
	}
	return ParseWithOptions(path, src, opts)
}

// Parse parses keepalived.conf text; name is the file name used in messages. It returns
// every error as an ErrorList and no Config when there is any, so that a caller never acts
// on half a file.
// Include lines name files relative to the directory of name.
func Parse(name string, src []byte) (*Config, []Diagnostic, error) {
	return ParseWithOptions(name, src, Options{})
}

// ParseWithOptions is Parse with options, as LoadWithOptions.
func ParseWithOptions(name string, src []byte, opts Options) (*Config, []Diagnostic, error) {
	d := &decoder{}
	r := newReader(d, opts)
	// About one token per 6 bytes in keepalived.conf files; growing less often saves
	// copying a large configuration's tokens.
	r.out = make([]token, 0, len(src)/6)
	r.file(name, src, nil)
	nodes, treeErrs := parseTree(r.out)
	for _, e := range treeErrs {
		d.errorf(e.Pos, "%s", e.Msg)
	}
	draft := &configDraft{}
	topLevelSchema.decode(d, "top level", nodes, draft)
	finishServers(d, draft)
	checkLocalAddrs(d, &draft.cfg)
	crossCheck(d, &draft.cfg)
	d.finish()
	if len(d.errs) > 0 {
		return nil, d.warns, ErrorList(d.errs)
	}
	return &draft.cfg, d.warns, nil
}
