package track

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ifaceState is what the watcher knows of one tracked interface.
type ifaceState struct {
	index  int // 0 while the link does not exist
	up     bool
	known  bool // an event has been emitted
	reason string
}

// linkUp is keepalived's FLAGS_UP: administratively up and running
// (carrier), IFF_UP and IFF_RUNNING both set.
func linkUp(flags uint32) bool {
	const want = unix.IFF_UP | unix.IFF_RUNNING
	return flags&want == want
}

func linkReason(flags uint32) string {
	switch {
	case flags&unix.IFF_UP == 0:
		return "admin down"
	case flags&unix.IFF_RUNNING == 0:
		return "no carrier"
	}
	return "up"
}

// resubscribeDelay is the pause before the link subscription is opened
// again after the kernel dropped it (e.g. ENOBUFS when messages pile up).
const resubscribeDelay = time.Second

// runInterfaces follows the tracked links through an RTNLGRP_LINK
// subscription. The initial state (and the state after a lost
// subscription) comes from LinkByName, read after subscribing so that no
// change falls in between.
func (w *Watcher) runInterfaces(ctx context.Context) error {
	states := map[string]*ifaceState{}
	for _, name := range w.o.Interfaces {
		states[name] = &ifaceState{}
	}
	first := true
	for {
		err := w.followLinks(ctx, states)
		if ctx.Err() != nil {
			return nil
		}
		if first && err != nil {
			return err
		}
		first = false
		w.log.Warn("link subscription lost, resubscribing", "err", err)
		if !w.sleep(ctx, resubscribeDelay) {
			return nil
		}
	}
}

// followLinks subscribes, reads the current state of every tracked link,
// then applies updates until ctx ends or the subscription breaks.
func (w *Watcher) followLinks(ctx context.Context, states map[string]*ifaceState) error {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	errs := make(chan error, 1)
	opts := netlink.LinkSubscribeOptions{
		Namespace: w.o.Namespace,
		ErrorCallback: func(err error) {
			select {
			case errs <- err:
			default:
			}
		},
	}
	if err := netlink.LinkSubscribeWithOptions(updates, done, opts); err != nil {
		return fmt.Errorf("subscribe to link updates: %w", err)
	}
	defer func() {
		close(done)
		// The receiver goroutine may be blocked sending to us; drain
		// until it closes the channel so it can end.
		for range updates {
		}
	}()

	h, err := w.linkHandle()
	if err != nil {
		return err
	}
	for name, st := range states {
		l, err := h.LinkByName(name)
		var nf netlink.LinkNotFoundError
		switch {
		case errors.As(err, &nf):
			w.setLink(name, st, 0, false, "not found")
		case err != nil:
			h.Close()
			return fmt.Errorf("read link %s: %w", name, err)
		default:
			a := l.Attrs()
			w.setLink(name, st, a.Index, linkUp(a.RawFlags), linkReason(a.RawFlags))
		}
	}
	h.Close()

	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-updates:
			if !ok {
				select {
				case err := <-errs:
					return err
				default:
					return errors.New("link subscription closed")
				}
			}
			w.linkUpdate(states, u)
		}
	}
}

func (w *Watcher) linkHandle() (*netlink.Handle, error) {
	if w.o.Namespace == nil {
		return netlink.NewHandle()
	}
	h, err := netlink.NewHandleAt(*w.o.Namespace)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in netns %v: %w", netns.NsHandle(*w.o.Namespace), err)
	}
	return h, nil
}

// linkUpdate applies one RTM_NEWLINK or RTM_DELLINK. A link renamed away
// from a tracked name counts as deleted.
func (w *Watcher) linkUpdate(states map[string]*ifaceState, u netlink.LinkUpdate) {
	a := u.Link.Attrs()
	deleted := u.Header.Type == unix.RTM_DELLINK
	for name, st := range states {
		switch {
		case name == a.Name && deleted:
			w.setLink(name, st, 0, false, "deleted")
		case name == a.Name:
			w.setLink(name, st, a.Index, linkUp(u.IfInfomsg.Flags), linkReason(u.IfInfomsg.Flags))
		case st.index != 0 && st.index == int(u.IfInfomsg.Index) && !deleted:
			w.setLink(name, st, 0, false, "renamed to "+a.Name)
		}
	}
}

func (w *Watcher) setLink(name string, st *ifaceState, index int, up bool, reason string) {
	st.index = index
	if st.known && st.up == up {
		// No change of state, but keep the latest reason for Status:
		// the kernel sends "down" before "deleted".
		if reason != st.reason {
			st.reason = reason
			w.note(KindInterface, name, reason)
		}
		return
	}
	st.known, st.up, st.reason = true, up, reason
	w.emit(Event{Name: name, Kind: KindInterface, Up: up, Reason: reason, At: w.o.Clock.Now()})
}
