package config

import (
	"math"
	"net/netip"
	"strings"
	"time"
)

// This file decodes the blocks that feed VRRP besides scripts and files: vrrp_track_process,
// bfd_instance, garp_group, and global_defs' lvs_sync_daemon. Defaults and ranges are
// keepalived's (vrrp/vrrp_parser.c, bfd/bfd_parser.c, core/global_parser.c).

// BFD defaults and limits (keepalived's bfd.h; RFC 5880 section 6.8.1).
const (
	defaultBFDMinRx      = 10 * time.Millisecond
	defaultBFDMinTx      = 10 * time.Millisecond
	defaultBFDIdleTx     = time.Second
	defaultBFDMultiplier = 5
	defaultBFDTTL4       = 255 // RFC 5881 section 5: single-hop sessions send TTL 255
	defaultBFDHopLimit6  = 64
	// maxBFDInterval is keepalived's bound: intervals are kept in microseconds in 32 bits.
	maxBFDInterval = math.MaxUint32 / 1000 * time.Millisecond
)

// trackFileTopSchema decodes keepalived 2.2's "track_file NAME { ... }", the new name of
// vrrp_track_file (whose schema is trackFileSchema).
var trackFileTopSchema = &schema[TrackFile]{words: trackFileWords, fields: trackFileSchema.fields}

// decodeTrackFileTop reads a top-level track_file block into Config.TrackFiles.
func decodeTrackFileTop(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	t := TrackFile{Pos: n.Key.Pos, Name: name, Weight: 1}
	nerr := len(d.errs)
	trackFileTopSchema.decode(d, n.String(), n.Block.Nodes, &t)
	if t.File == "" && len(d.errs) == nerr {
		d.errorf(n.Key.Pos, "%s: no file line", n.String())
		return
	}
	c.cfg.TrackFiles = append(c.cfg.TrackFiles, t)
}

// tpDraft is a vrrp_track_process being decoded: the model and which settings were
// written, since keepalived's defaults depend on them.
type tpDraft struct {
	tp        TrackProcess
	weightSet bool
}

var trackProcessSchema = &schema[tpDraft]{
	words: vrrpTrackProcessWords,
	fields: map[string]field[tpDraft]{
		"process":     decodeProcess,
		"param_match": decodeParamMatch,
		"weight": func(d *decoder, n *node, t *tpDraft) {
			if t.weightSet {
				d.errorf(n.Key.Pos, "%s: weight given twice", d.where)
				return
			}
			t.tp.Weight, t.tp.Reverse = weightReverseLimit(d, n, 254)
			t.weightSet = true
		},
		"quorum": intField(func(t *tpDraft) *int { return &t.tp.Quorum }, 1, math.MaxUint16),
		"quorum_max": func(d *decoder, n *node, t *tpDraft) {
			v, ok := value(d, d.where, n)
			if !ok {
				return
			}
			q, ok := parseIntRange(v.Text, 0, math.MaxUint16)
			if !ok {
				d.errorf(v.Pos, "%s: quorum_max %q: want 0..%d", d.where, v.Text, math.MaxUint16)
				return
			}
			t.tp.QuorumMax = &q
		},
		"fork_delay":      processDelayField(func(t *tpDraft) []*time.Duration { return []*time.Duration{&t.tp.ForkDelay} }),
		"terminate_delay": processDelayField(func(t *tpDraft) []*time.Duration { return []*time.Duration{&t.tp.TerminateDelay} }),
		"delay": processDelayField(func(t *tpDraft) []*time.Duration {
			return []*time.Duration{&t.tp.ForkDelay, &t.tp.TerminateDelay}
		}),
		"full_command": flagField(func(t *tpDraft) *bool { return &t.tp.FullCommand }),
	},
}

// decodeProcess reads "process NAME [PARAM ...]"; a quoted word is one element, so a name
// may hold blanks.
func decodeProcess(d *decoder, n *node, t *tpDraft) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) == 0 {
		d.errorf(n.Key.Pos, "%s: process: missing value", d.where)
		return
	}
	if t.tp.Process != "" {
		d.errorf(n.Key.Pos, "%s: process given twice", d.where)
		return
	}
	t.tp.Process = n.Args[0].Text
	for _, a := range n.Args[1:] {
		t.tp.Params = append(t.tp.Params, a.Text)
	}
}

// decodeParamMatch reads "param_match [initial|partial]"; alone it asks for an exact match.
func decodeParamMatch(d *decoder, n *node, t *tpDraft) {
	if !noBlock(d, n) {
		return
	}
	switch {
	case len(n.Args) == 0:
		t.tp.ParamMatch = "exact"
	case len(n.Args) > 1:
		d.errorf(n.Args[1].Pos, "%s: param_match: unexpected argument %q", d.where, n.Args[1].Text)
	case n.Args[0].Text == "initial" || n.Args[0].Text == "partial":
		t.tp.ParamMatch = n.Args[0].Text
	default:
		d.errorf(n.Args[0].Pos, "%s: param_match %q: want no value, initial or partial", d.where, n.Args[0].Text)
	}
}

// processDelayField reads a track process delay: 0.000001..3600 seconds.
func processDelayField(get func(*tpDraft) []*time.Duration) field[tpDraft] {
	return func(d *decoder, n *node, t *tpDraft) {
		v, ok := value(d, d.where, n)
		if !ok {
			return
		}
		s, ok := parseSeconds(v.Text)
		if !ok || s > time.Hour {
			d.errorf(v.Pos, "%s: %s %q: want seconds, 0.000001..3600", d.where, n.Key.Text, v.Text)
			return
		}
		for _, p := range get(t) {
			*p = s
		}
	}
}

func decodeTrackProcess(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	item := n.String()
	t := tpDraft{tp: TrackProcess{Pos: n.Key.Pos, Name: name}}
	// The block joins the list even with errors, so that references to it do not add
	// errors of their own; with an error there is no Config anyway.
	defer func() { c.cfg.TrackProcesses = append(c.cfg.TrackProcesses, t.tp) }()
	nerr := len(d.errs)
	trackProcessSchema.decode(d, item, n.Block.Nodes, &t)
	if len(d.errs) > nerr {
		return
	}
	tp := &t.tp
	if tp.Process == "" {
		d.errorf(n.Key.Pos, "%s: no process line", item)
		return
	}
	// keepalived's defaults, whatever the order of the lines: parameters mean an exact
	// match of the command line, and quorum_max 0 a process that must not run.
	if len(tp.Params) > 0 && tp.ParamMatch == "" {
		tp.ParamMatch = "exact"
	}
	if tp.ParamMatch != "" {
		tp.FullCommand = true
	}
	switch {
	case tp.QuorumMax != nil && *tp.QuorumMax == 0:
		if tp.Quorum > 1 {
			d.errorf(n.Key.Pos, "%s: quorum %d is above quorum_max 0", item, tp.Quorum)
			return
		}
		tp.Quorum = 0
	case tp.Quorum == 0:
		tp.Quorum = 1
	}
	if tp.QuorumMax != nil && *tp.QuorumMax > 0 && tp.Quorum > *tp.QuorumMax {
		d.errorf(n.Key.Pos, "%s: quorum %d is above quorum_max %d", item, tp.Quorum, *tp.QuorumMax)
	}
}

// weightReverseLimit reads "weight N [reverse|noreverse]" with N in -limit..limit.
func weightReverseLimit(d *decoder, n *node, limit int) (int, bool) {
	if !noBlock(d, n) || len(n.Args) == 0 || len(n.Args) > 2 {
		d.errorf(n.Key.Pos, "%s: weight: want N [reverse|noreverse]", d.where)
		return 0, false
	}
	w, ok := parseIntRange(n.Args[0].Text, -limit, limit)
	if !ok {
		d.errorf(n.Args[0].Pos, "%s: weight %q: want %d..%d", d.where, n.Args[0].Text, -limit, limit)
		return 0, false
	}
	if len(n.Args) == 2 && n.Args[1].Text != "reverse" && n.Args[1].Text != "noreverse" {
		d.errorf(n.Args[1].Pos, "%s: weight: %q: want reverse or noreverse", d.where, n.Args[1].Text)
		return w, false
	}
	return w, len(n.Args) == 2 && n.Args[1].Text == "reverse"
}

// bfdDraft is a bfd_instance being decoded.
type bfdDraft struct {
	bfd    BFDInstance
	ttlSet bool
}

var bfdSchema = &schema[bfdDraft]{
	words: bfdInstanceWords,
	fields: map[string]field[bfdDraft]{
		"neighbor_ip":  addrField(func(b *bfdDraft) *netip.Addr { return &b.bfd.Neighbor }),
		"neighbour_ip": addrField(func(b *bfdDraft) *netip.Addr { return &b.bfd.Neighbor }),
		"source_ip":    addrField(func(b *bfdDraft) *netip.Addr { return &b.bfd.Source }),
		"min_rx":       millisField(func(b *bfdDraft) *time.Duration { return &b.bfd.MinRx }, time.Millisecond),
		"min_tx":       millisField(func(b *bfdDraft) *time.Duration { return &b.bfd.MinTx }, time.Millisecond),
		"idle_tx":      millisField(func(b *bfdDraft) *time.Duration { return &b.bfd.IdleTx }, time.Second),
		"multiplier":   intField(func(b *bfdDraft) *int { return &b.bfd.Multiplier }, 1, 255),
		"passive":      flagField(func(b *bfdDraft) *bool { return &b.bfd.Passive }),
		"ttl":          bfdTTLField,
		"hoplimit":     bfdTTLField,
		"max_hops":     intField(func(b *bfdDraft) *int { return &b.bfd.MaxHops }, -1, 255),
		"multihop":     flagField(func(b *bfdDraft) *bool { return &b.bfd.Multihop }),
		"weight": func(d *decoder, n *node, b *bfdDraft) {
			b.bfd.Weight, b.bfd.Reverse = weightReverseLimit(d, n, maxTrackWeight)
		},
		"vrrp":    flagField(func(b *bfdDraft) *bool { return &b.bfd.VRRP }),
		"checker": flagField(func(b *bfdDraft) *bool { return &b.bfd.Checker }),
	},
}

func bfdTTLField(d *decoder, n *node, b *bfdDraft) {
	intField(func(b *bfdDraft) *int { return &b.bfd.TTL }, 1, 255)(d, n, b)
	b.ttlSet = true
}

// millisField reads keepalived's BFD intervals: milliseconds with up to 3 decimal places
// (microseconds), at least least.
func millisField[T any](get func(*T) *time.Duration, least time.Duration) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		ms, ok := parseMillis(t.Text)
		if !ok || ms < least || ms > maxBFDInterval {
			d.errorf(t.Pos, "%s: %s %q: want milliseconds, %s..%s, at most 3 decimal places",
				d.where, n.Key.Text, t.Text, millis(least), millis(maxBFDInterval))
			return
		}
		*get(into) = ms
	}
}

// parseMillis reads decimal milliseconds with at most 3 decimal places.
func parseMillis(s string) (time.Duration, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 3 || whole == "" {
		return 0, false
	}
	w, ok := parseUint(whole, math.MaxInt64/uint64(time.Millisecond))
	if !ok {
		return 0, false
	}
	var f uint64
	if frac != "" {
		if f, ok = parseUint(frac+strings.Repeat("0", 3-len(frac)), 999); !ok {
			return 0, false
		}
	}
	return time.Duration(w)*time.Millisecond + time.Duration(f)*time.Microsecond, true
}

// millis writes d in milliseconds for messages.
func millis(d time.Duration) string {
	return strings.TrimSuffix(seconds(d*1000), ".0")
}

func decodeBFDInstance(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	item := n.String()
	b := bfdDraft{bfd: BFDInstance{
		Pos: n.Key.Pos, Name: name, MinRx: defaultBFDMinRx, MinTx: defaultBFDMinTx,
		IdleTx: defaultBFDIdleTx, Multiplier: defaultBFDMultiplier,
	}}
	// Listed even with errors, as in decodeTrackProcess.
	defer func() { c.cfg.BFDInstances = append(c.cfg.BFDInstances, b.bfd) }()
	nerr := len(d.errs)
	bfdSchema.decode(d, item, n.Block.Nodes, &b)
	if len(d.errs) > nerr {
		return
	}
	bfd := &b.bfd
	switch {
	case !bfd.Neighbor.IsValid():
		d.errorf(n.Key.Pos, "%s: no neighbor_ip", item)
		return
	case bfd.Source.IsValid() && bfd.Source.Is4() != bfd.Neighbor.Is4():
		d.errorf(n.Key.Pos, "%s: source_ip %s and neighbor_ip %s are of different families", item, bfd.Source, bfd.Neighbor)
		return
	}
	if !b.ttlSet {
		bfd.TTL = defaultBFDTTL4
		if bfd.Neighbor.Is6() {
			bfd.TTL = defaultBFDHopLimit6
		}
	}
	if bfd.MaxHops > bfd.TTL {
		// keepalived lowers it with a config error; the operator should decide.
		d.errorf(n.Key.Pos, "%s: max_hops %d is above the ttl/hoplimit %d", item, bfd.MaxHops, bfd.TTL)
	}
}

var garpGroupSchema = &schema[GarpGroup]{
	words: garpGroupWords,
	fields: map[string]field[GarpGroup]{
		"garp_interval": secondsField(func(g *GarpGroup) *time.Duration { return &g.GarpInterval }, true),
		"gna_interval":  secondsField(func(g *GarpGroup) *time.Duration { return &g.GNAInterval }, true),
		"interface":     stringField(func(g *GarpGroup) *string { return &g.Interface }),
		"interfaces":    listField(func(g *GarpGroup) *[]string { return &g.Interfaces }),
	},
}

// decodeGarpGroup reads "garp_group { ... }", which has no name.
func decodeGarpGroup(d *decoder, n *node, c *configDraft) {
	if len(n.Args) > 0 {
		d.errorf(n.Args[0].Pos, "garp_group: unexpected argument %q; it takes no name", n.Args[0].Text)
	}
	if n.Block == nil {
		d.errorf(n.Key.Pos, "garp_group: want a { block }")
		return
	}
	g := GarpGroup{Pos: n.Key.Pos}
	nerr := len(d.errs)
	garpGroupSchema.decode(d, "garp_group", n.Block.Nodes, &g)
	if len(d.errs) > nerr {
		return
	}
	switch {
	case g.Interface == "" && len(g.Interfaces) == 0:
		d.errorf(n.Key.Pos, "garp_group: no interface or interfaces")
		return
	case g.Interface != "" && len(g.Interfaces) > 0:
		// keepalived's manual: only one of them per block.
		d.errorf(n.Key.Pos, "garp_group: both interface and interfaces; write one garp_group for each")
		return
	}
	c.cfg.GarpGroups = append(c.cfg.GarpGroups, g)
}

// decodeLVSSyncDaemon reads "lvs_sync_daemon IF [[inst] INSTANCE] [id N] [maxlen N]
// [port N] [ttl N] [group ADDR]". The third word is the instance without "inst" and,
// from keepalived 1.x, the fourth the sync id without "id" (with a warning).
func decodeLVSSyncDaemon(d *decoder, n *node, g *GlobalDefs) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) == 0 {
		d.errorf(n.Key.Pos, "%s: lvs_sync_daemon: missing interface", d.where)
		return
	}
	// IP_VS_IFNAME_MAXLEN is 16 with the NUL.
	if len(n.Args[0].Text) > 15 {
		d.errorf(n.Args[0].Pos, "%s: lvs_sync_daemon interface %q: longer than 15 bytes", d.where, n.Args[0].Text)
		return
	}
	s := &LVSSyncDaemon{Pos: n.Key.Pos, Interface: n.Args[0].Text}
	args := n.Args[1:]
	bad := false
	num := func(opt, v token, lo, hi int) int {
		x, ok := parseIntRange(v.Text, lo, hi)
		if !ok {
			d.errorf(v.Pos, "%s: lvs_sync_daemon %s %q: want %d..%d", d.where, opt.Text, v.Text, lo, hi)
			bad = true
		}
		return x
	}
	for i := 0; i < len(args); i++ {
		opt := args[i]
		switch opt.Text {
		case "inst", "id", "maxlen", "port", "ttl", "group":
		default:
			switch {
			case i == 0:
				s.Instance = opt.Text
				continue
			case i == 1 && s.Instance != "":
				id := num(token{Text: "id"}, opt, 0, 255)
				s.SyncID = &id
				d.warnf(opt.Pos, "%s: lvs_sync_daemon: a sync id without \"id\" is old syntax; write id %s", d.where, opt.Text)
				continue
			}
			d.errorf(opt.Pos, "%s: lvs_sync_daemon: unknown option %q (want inst, id, maxlen, port, ttl or group)", d.where, opt.Text)
			bad = true
			continue
		}
		if i+1 >= len(args) {
			d.errorf(opt.Pos, "%s: lvs_sync_daemon %s: missing value", d.where, opt.Text)
			bad = true
			break
		}
		i++
		v := args[i]
		switch opt.Text {
		case "inst":
			s.Instance = v.Text
		case "id":
			id := num(opt, v, 0, 255)
			s.SyncID = &id
		case "maxlen":
			s.MaxLen = num(opt, v, 1, 65535-20-8) // a UDP payload within an IPv4 packet
		case "port":
			s.Port = uint16(num(opt, v, 1, 65535))
		case "ttl":
			s.TTL = num(opt, v, 1, 255)
		case "group":
			a, ok := parseAddr(v.Text)
			if !ok || !a.IsMulticast() {
				d.errorf(v.Pos, "%s: lvs_sync_daemon group %q: want a multicast address", d.where, v.Text)
				bad = true
			}
			s.Group = a
		}
	}
	if !bad {
		g.LVSSyncDaemon = s
	}
}
