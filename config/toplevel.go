package config

import (
	"math"
	"time"
)

// This file decodes the top-level words about keepalived's process rather than a block of
// VRRP or IPVS: namespaces, instance name, pid directory, link beat, interface
// debouncing and track groups (core/global_parser.c, vrrp/vrrp_parser.c).

// topLevelMoreFields are the rows of topLevelSchema this file decodes.
func topLevelMoreFields() map[string]field[configDraft] {
	return map[string]field[configDraft]{
		"track_group":              decodeTrackGroup,
		"net_namespace":            onceStringField(func(c *configDraft) *string { return &c.cfg.NetNamespace }),
		"net_namespace_ipvs":       decodeNetNamespaceIPVS,
		"namespace_with_ipsets":    flagField(func(c *configDraft) *bool { return &c.cfg.NamespaceWithIPSets }),
		"use_pid_dir":              flagField(func(c *configDraft) *bool { return &c.cfg.UsePidDir }),
		"instance":                 onceStringField(func(c *configDraft) *string { return &c.cfg.InstanceName }),
		"child_wait_time":          wholeSecondsField(func(c *configDraft) *time.Duration { return &c.cfg.ChildWaitTime }, math.MaxInt32),
		"linkbeat_use_polling":     flagField(func(c *configDraft) *bool { return &c.cfg.LinkbeatUsePolling }),
		"linkbeat_interfaces":      decodeLinkbeatInterfaces,
		"interface_up_down_delays": decodeInterfaceDelays,
	}
}

// onceStringField stores the single word of a keyword keepalived takes once: a second
// one is an error, where keepalived ignores it.
func onceStringField[T any](get func(*T) *string) field[T] {
	return func(d *decoder, n *node, into *T) {
		t, ok := value(d, d.where, n)
		if !ok {
			return
		}
		if p := get(into); *p != "" {
			d.errorf(n.Key.Pos, "%s: %s %s: written twice (first %s)", d.where, n.Key.Text, t.Text, *p)
			return
		}
		*get(into) = t.Text
	}
}

// wholeSecondsField stores a number of whole seconds in 0..most.
func wholeSecondsField[T any](get func(*T) *time.Duration, most int) field[T] {
	return func(d *decoder, n *node, into *T) {
		var s int
		nerr := d.errCount()
		intField(func(*T) *int { return &s }, 0, most)(d, n, into)
		if d.errCount() == nerr {
			*get(into) = time.Duration(s) * time.Second
		}
	}
}

// decodeNetNamespaceIPVS reads "net_namespace_ipvs [NAME]"; no name is the default
// namespace.
func decodeNetNamespaceIPVS(d *decoder, n *node, c *configDraft) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) > 1 {
		d.errorf(n.Args[1].Pos, "%s: %s: unexpected argument %q", d.where, n.Key.Text, n.Args[1].Text)
		return
	}
	if c.cfg.NetNamespaceIPVS != nil {
		d.errorf(n.Key.Pos, "%s: %s: written twice", d.where, n.Key.Text)
		return
	}
	name := argText(n, 0)
	c.cfg.NetNamespaceIPVS = &name
}

// decodeLinkbeatInterfaces reads "linkbeat_interfaces { IF [MII|ETHTOOL|IOCTL] ... }".
func decodeLinkbeatInterfaces(d *decoder, n *node, c *configDraft) {
	for _, l := range lines(d, n) {
		li := LinkbeatInterface{Pos: l.Key.Pos, Interface: l.Key.Text}
		if len(l.Args) > 0 {
			switch l.Args[0].Text {
			case "MII", "ETHTOOL", "IOCTL":
				li.Type = l.Args[0].Text
			default:
				d.errorf(l.Args[0].Pos, "%s: %s: %q: want MII, ETHTOOL or IOCTL", n.Key.Text, l.Key.Text, l.Args[0].Text)
				continue
			}
		}
		if len(l.Args) > 1 {
			d.errorf(l.Args[1].Pos, "%s: %s: unexpected argument %q", n.Key.Text, l.Key.Text, l.Args[1].Text)
			continue
		}
		c.cfg.LinkbeatInterfaces = append(c.cfg.LinkbeatInterfaces, li)
	}
}

// maxDebounce bounds an interface_up_down_delays delay (keepalived: 255 seconds).
const maxDebounce = 255 * time.Second

// decodeInterfaceDelays reads "interface_up_down_delays { IF DOWN [UP] ... }", delays in
// decimal seconds up to 255.
func decodeInterfaceDelays(d *decoder, n *node, c *configDraft) {
	for _, l := range lines(d, n) {
		if len(l.Args) == 0 || len(l.Args) > 2 {
			d.errorf(l.Key.Pos, "%s: %s: want IF DOWN_DELAY [UP_DELAY]", n.Key.Text, l.Key.Text)
			continue
		}
		delay := InterfaceDelay{Pos: l.Key.Pos, Interface: l.Key.Text}
		ok := true
		for k, a := range l.Args {
			v, good := parseSecondsZero(a.Text, true)
			if !good || v > maxDebounce {
				d.errorf(a.Pos, "%s: %s: %q: want seconds, 0..255, at most 6 decimal places", n.Key.Text, l.Key.Text, a.Text)
				ok = false
				continue
			}
			if k == 0 {
				delay.Down = v
			} else {
				delay.Up = v
			}
		}
		if ok {
			c.cfg.InterfaceDelays = append(c.cfg.InterfaceDelays, delay)
		}
	}
}

var trackGroupSchema = &schema[TrackGroup]{
	words: trackGroupWords,
	fields: map[string]field[TrackGroup]{
		"group": listField(func(g *TrackGroup) *[]string { return &g.Group }),
	},
}

// decodeTrackGroup reads "track_group NAME { group { INSTANCE ... } }".
func decodeTrackGroup(d *decoder, n *node, c *configDraft) {
	name, ok := nameArg(d, n)
	if !ok {
		return
	}
	g := TrackGroup{Pos: n.Key.Pos, Name: name}
	nerr := d.errCount()
	trackGroupSchema.decode(d, n.String(), n.Block.Nodes, &g)
	if len(g.Group) == 0 && d.errCount() == nerr {
		// keepalived drops it with a message too.
		d.errorf(n.Key.Pos, "%s: no members; want group { INSTANCE ... }", n.String())
		return
	}
	c.cfg.TrackGroups = append(c.cfg.TrackGroups, g)
}
